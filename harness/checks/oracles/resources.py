"""Oracle 4, resources survive: what the resource plugins created before the roll was
created without a problem and verified without one before and after the roll (Grenade's
create / verify). A problem at destroy also fails: a resource the new release cannot
delete did not survive the roll. The document it reads: harness/run/survival.py."""

from __future__ import annotations

from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict

NAME = "resources"
UNIT = "problems"  # what one piece of its evidence is
EVIDENCE = 20
MOMENTS = ("before", "after")  # both must have been verified for a pass


def check(record: RunRecord) -> Verdict:
    doc = record.resources
    if not doc or not doc.get("created"):
        return Verdict(NAME, UNKNOWN, "no resources were created", {"resources": 0})
    created = doc["created"]
    evidence = problems(doc)
    counts = {"resources": len(created), "problems": len(evidence)}
    if evidence:
        first = evidence[0]
        summary = (
            f"{len(evidence)} resource problems in {len({e['plugin'] for e in evidence})} of "
            f"{len(created)} plugins; first: {first['plugin']} ({first['when']}): "
            f"{first['problem']}"
        )
        return Verdict(NAME, FAIL, summary, counts, evidence[:EVIDENCE])
    unverified = [
        f"{name} ({when})"
        for when in MOMENTS
        for name in created
        if name not in doc.get("verified", {}).get(when, {})
    ]
    if unverified:
        return Verdict(NAME, UNKNOWN, f"not verified: {', '.join(unverified)}", counts)
    return Verdict(NAME, PASS, f"{len(created)} plugins' resources survived the roll", counts)


def problems(doc: dict) -> list[dict]:
    """Every problem as {"plugin", "when", "problem"}: create, before, after, destroy."""
    phases = [("create", doc["created"])]
    phases += [(when, doc.get("verified", {}).get(when, {})) for when in MOMENTS]
    phases += [(when, plugins) for when, plugins in doc.get("verified", {}).items()
               if when not in MOMENTS]  # fmt: skip
    phases.append(("destroy", doc.get("destroyed") or {}))
    return [
        {"plugin": plugin, "when": when, "problem": problem}
        for when, plugins in phases
        for plugin, entry in plugins.items()
        for problem in entry.get("problems", [])
    ]
