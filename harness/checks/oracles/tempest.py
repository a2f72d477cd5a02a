"""Oracle 12, tempest: a tempest test that passed before the roll passes during and after
it. Tempest is what every OpenStack gate reads; run again and again while the roll goes
(over the drained API nodes too), it asks the cloud what the load does not: create,
show, update and delete through each API with fresh projects and users.

The baseline is the first run, before the roll's first step. A test that failed there is
reported, not judged (the cloud as installed cannot pass it). A later run's failure of a
test that passed in the baseline fails the oracle, and so does a class fixture's failure
(`setUpClass (…)`: its tests never ran) for a class whose tests passed in the baseline,
and a baseline test missing from a later run that the harness did not cut short. A test
that lost its connection while a VIP failover of the scenario's moved the VIP is that
failover's cost (`failover_excused`), as the load's requests then are.

The services' logs and the bus trace are joined through what a failure's reason names:
the server (or image, port, ...) that went wrong, by its UUID, and the request tempest's
waiter last made, by its id. The first error record in any service's log that names
either ("logged": process, node, t, message) says why, and the request's RPC messages say
where its work stopped ("lost_message", as the end-to-end ledger finds it), so a known
finding can match the mechanism, not the moment (seen: a server tempest could not delete
was in ERROR because its compute's fanout cast to the scheduler failed, which only the
compute's log says; a build the stopping scheduler failed, named by its request).

Evidence, one per failed test and run: {"test", "run", "label": during | after, "start",
"end", "reason" (the traceback's last line), "step" (the step in progress when it began),
"steps" (the steps its own span covered), "run_steps" (those its run spanned), "logged",
"lost_message"}.
"""

from __future__ import annotations

import re

from harness.checks import failover
from harness.checks.oracles import rpc_end_to_end, service_logs
from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict
from harness.tempest import ledger

NAME = "tempest"
UNIT = "tests"
_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REQUEST = re.compile(rf"req-{_ID}")  # tempest's waiters name the request they waited on
UUID = re.compile(rf"(?<![-\w]){_ID}\b")  # a server, image, port ... (not a request id)
# A reason saying the client lost its connection (keystoneauth's and urllib3's words)
READ_TIMEOUT = re.compile(r"Read timed out\. \(read timeout=([0-9.]+)\)")
CONNECTION = failover.CONNECTION


def check(record: RunRecord) -> Verdict:
    runs = record.tempest
    if runs is None:
        return Verdict(NAME, UNKNOWN, "tempest did not run (scenario tempest.enabled: false)")
    baseline = next((r for r in runs if r["label"] == ledger.BASELINE), None)
    if baseline is None or not baseline["tests"]:
        return Verdict(NAME, UNKNOWN, "no tempest baseline run to compare with")
    passed = {t for t, r in baseline["tests"].items() if r["status"] in ledger.PASSED}
    classes = {ledger.test_class(t) for t in passed}
    later = [r for r in runs if r is not baseline]
    evidence = [e for run in later for e in _failures(run, passed, classes, record)]
    evidence, spared = _failovers_spared(evidence, failover.windows(record.events))
    _join(evidence, record)
    counts = {
        "runs": {label: sum(r["label"] == label for r in runs)
                 for label in (ledger.BASELINE, ledger.DURING, ledger.AFTER)},
        "baseline_passed": len(passed),
        "baseline_failed": sorted(t for t, r in baseline["tests"].items()
                                  if r["status"] in ledger.FAILED),
        "results": [_tally(r) for r in runs],
        "failover_excused": spared,
    }  # fmt: skip
    if not later:
        return Verdict(NAME, UNKNOWN, "tempest ran only its baseline", counts)
    if not evidence:
        tests = sum(len(r["tests"]) for r in later)
        summary = (f"{len(passed)} baseline tests passed again in {len(later)} runs during "
                   f"and after the roll ({tests} test results)")  # fmt: skip
        return Verdict(NAME, PASS, summary, counts)
    e = evidence[0]
    return Verdict(NAME, FAIL, f"{len(evidence)} tempest failures of tests that passed before "
                   f"the roll; first: {e['test']} in the {e['label']} run {e['run']}, during "
                   f"{e['step'] or 'no step'}: {e['reason']}", counts, evidence)  # fmt: skip


def _failures(run: dict, passed: set[str], classes: set[str], record: RunRecord) -> list[dict]:
    out = []
    for test, r in sorted(run["tests"].items(), key=lambda kv: kv[1]["start"] or 0):
        fixture = "(" in test  # setUpClass (…), tearDownClass (…)
        judged = test in passed or (fixture and ledger.test_class(test) in classes)
        # The harness ending a run mid-test may fail what was running: not the cloud's doing.
        cut = run.get("stopping") is not None and (r["end"] or 0) >= run["stopping"]
        if judged and r["status"] in ledger.FAILED and not cut:
            out.append(_evidence(test, r["start"], r["end"], r["reason"], run, record))
    if not run.get("cut_short"):
        why = "the run timed out" if run.get("exit_status") is None else "the run ended without it"
        for test in sorted(passed - set(run["tests"])):
            if not any(_fixture_of(t, test) for t in run["tests"]):  # a fixture said why
                out.append(_evidence(test, None, None, f"not run: {why}", run, record))
    return out


def _failovers_spared(evidence: list[dict],
                      windows: list[failover.Window]) -> tuple[list[dict], int]:  # fmt: skip
    """A test that lost its connection to the VIP while a failover of the scenario's moved
    it, or whose request was in flight then and waited out its read timeout (the old
    holder's answer had no address left to leave from), is that failover's cost
    (checks/failover.py), like the load's requests then; any other failure counts."""
    kept = [e for e in evidence if not _in_failover(e, windows)]
    return kept, len(evidence) - len(kept)


def _in_failover(e: dict, windows: list[failover.Window]) -> bool:
    if e["start"] is None:
        return False
    end = e["end"] or e["start"]
    reason = e["reason"] or ""
    timeout = READ_TIMEOUT.search(reason)
    if timeout:  # its request was sent `timeout` seconds before it failed
        return failover.spanning(windows, end - float(timeout[1]), end) is not None
    lost = CONNECTION.search(reason)
    return bool(lost) and failover.spanning(windows, e["start"], end) is not None


def _fixture_of(candidate: str, test: str) -> bool:
    return "(" in candidate and ledger.test_class(candidate) == ledger.test_class(test)


def _evidence(test: str, start, end, reason, run: dict, record: RunRecord) -> dict:
    t0 = start if start is not None else run["started"]
    t1 = end if end is not None else run["ended"]
    tl = record.timeline
    return {"test": test, "run": run["run"], "label": run["label"], "start": start, "end": end,
            "reason": reason, "step": tl.step_at(t0), "steps": tl.steps_between(t0, t1),
            "run_steps": tl.steps_between(run["started"], run["ended"])}  # fmt: skip


def _join(evidence: list[dict], record: RunRecord) -> None:
    """Each failure's "logged" (the first error record naming a request or a resource its
    reason names) and "lost_message" (where its request's RPC work stopped, from the bus
    trace, as the end-to-end ledger finds it)."""
    if not evidence:
        return
    records = sorted(service_logs.parse_all(record.logs or {})[0], key=lambda r: r.t)
    by_request = rpc_end_to_end.messages_by_request(record.bus)
    answered = rpc_end_to_end.answered_calls(record.bus)
    for e in evidence:
        requests = set(REQUEST.findall(e["reason"] or ""))
        uuids = set(UUID.findall(e["reason"] or ""))
        first = next((r for r in records if requests & set(r.requests)
                      or any(u in r.lines[0] for u in uuids)), None)  # fmt: skip
        e["logged"] = service_logs.brief(first) if first else None
        traced = next((by_request[r] for r in sorted(requests) if r in by_request), [])
        e["lost_message"] = rpc_end_to_end.lost_message(traced, answered, record)


def _tally(run: dict) -> dict:
    statuses = [r["status"] for r in run["tests"].values()]
    return {"run": run["run"], "label": run["label"], "started": run["started"],
            "ended": run["ended"], "tests": len(statuses),
            "passed": sum(s in ledger.PASSED for s in statuses),
            "failed": sum(s in ledger.FAILED for s in statuses),
            "skipped": statuses.count("skip"), "cut_short": bool(run.get("cut_short"))}  # fmt: skip
