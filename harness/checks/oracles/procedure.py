"""Oracle 7, procedure: the upgrade procedure itself ran to its end — every step of the
plan started, ended and succeeded (DB syncs, online data migrations, `nova-status upgrade
check`, every restart). A patch can break an upgrade without a client noticing: a
migration that never converges, a status check that errors, a service that will not
start on the new code. The runner's events say it (events.jsonl):

    {"event": "plan", "steps": 56, ...}
    {"event": "step-start", "id": "6.30", "kind": "manage", "service": "nova",
     "node": "controller", "description": "nova-status upgrade check", ...}
    {"event": "step-end", "id": "6.30", "status": "failed", "error": "...", ...}

Evidence, one per step that failed or never ended, then one for the steps never run:
{"step": "6.30 nova-status upgrade check", "kind", "service", "node", "status", "error"}.
No plan event at all is unknown (the roll never began).
"""

from __future__ import annotations

from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict

NAME = "procedure"
UNIT = "steps"  # what one piece of its evidence is


def check(record: RunRecord) -> Verdict:
    plans = [e for e in record.events if e["event"] == "plan"]
    if not plans:
        return Verdict(NAME, UNKNOWN, "the roll never began (no plan in the events)")
    planned = plans[-1]["steps"]
    starts = [e for e in record.events if e["event"] == "step-start"]
    ends = {e["id"]: e for e in record.events if e["event"] == "step-end"}
    evidence = []
    for start in starts:
        end = ends.get(start["id"])
        if end is None or end["status"] != "ok":
            evidence.append({
                "step": f"{start['id']} {start['description']}", "kind": start["kind"],
                "service": start["service"], "node": start["node"],
                "status": end["status"] if end else "never ended",
                "error": (end or {}).get("error") or "the run stopped during it",
            })  # fmt: skip
    unrun = planned - len(starts)
    if unrun > 0:
        evidence.append({"step": f"{unrun} of {planned} steps", "kind": "", "service": "",
                         "node": "", "status": "never ran",
                         "error": "the roll stopped before them"})  # fmt: skip
    counts = {"planned": planned, "ran": len(starts), "failed": len(evidence) - (unrun > 0)}
    if not evidence:
        return Verdict(NAME, PASS, f"{planned} of {planned} planned steps ran and succeeded",
                       counts)  # fmt: skip
    first = evidence[0]
    why = first["error"].splitlines()[0]
    summary = (f"{len(starts)} of {planned} planned steps ran; first not to succeed: "
               f"{first['step']} ({first['status']}): {why}")  # fmt: skip
    return Verdict(NAME, FAIL, summary, counts, evidence)
