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

And the order the services' guides require (the plan event's `order`: a process may run
the target release only once every process it names runs it, on every node — neutron's
agents after its servers): judged on what the processes ran, as the runner recorded it
after each step (`releases` events), so a plan that reordered the steps, or a process
started on the wrong code, is caught by what happened. Evidence, once per pair: status
"out of order", the step during which it was seen, and both processes' releases.
"""

from __future__ import annotations

from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict

NAME = "procedure"
OUT_OF_ORDER = "out of order"
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
    evidence += _out_of_order(record, plans[-1])
    unrun = planned - len(starts)
    if unrun > 0:
        evidence.append({"step": f"{unrun} of {planned} steps", "kind": "", "service": "",
                         "node": "", "status": "never ran",
                         "error": "the roll stopped before them"})  # fmt: skip
    disorder = sum(e["status"] == OUT_OF_ORDER for e in evidence)
    counts = {"planned": planned, "ran": len(starts), "out_of_order": disorder,
              "failed": len(evidence) - (unrun > 0) - disorder}  # fmt: skip
    if not evidence:
        return Verdict(NAME, PASS, f"{planned} of {planned} planned steps ran and succeeded",
                       counts)  # fmt: skip
    first = evidence[0]
    why = first["error"].splitlines()[0]
    summary = (f"{len(starts)} of {planned} planned steps ran; first not to succeed: "
               f"{first['step']} ({first['status']}): {why}")  # fmt: skip
    return Verdict(NAME, FAIL, summary, counts, evidence)


def _out_of_order(record: RunRecord, plan: dict) -> list[dict]:
    target, rules = plan.get("target"), plan.get("order") or {}
    seen, evidence = set(), []
    for t, releases in record.timeline.releases:
        for node, processes in releases.items():
            for process, first in rules.items():
                if processes.get(process) != target:
                    continue
                for other, peers in releases.items():
                    for peer in first:
                        release = peers.get(peer)
                        if release is None or release == target or (
                                (process, node, peer, other) in seen):  # fmt: skip
                            continue
                        seen.add((process, node, peer, other))
                        evidence.append(_disorder(record, t, process, node, peer, other,
                                                  release, target))  # fmt: skip
    return evidence


def _disorder(record, t, process, node, peer, other, release, target) -> dict:
    # the releases are recorded just after each step ends (the next may begin within the
    # same millisecond): the step that ended last made it so
    ended = sorted((end, text) for _, end, text in record.timeline.steps if end <= t)
    return {"step": ended[-1][1] if ended else "before the roll", "kind": "order",
            "service": "", "node": node, "status": OUT_OF_ORDER,
            "error": f"{process} on {node} ran {target} while {peer} on {other} still ran "
                     f"{release} (its guide: {peer} first)"}  # fmt: skip
