"""Oracle 3b, the end-to-end ledger: every asynchronous operation the API accepted (a
server create, a delete) reaches its final state — ACTIVE, gone — within a bound after the
roll. The bus cannot see a message acked and then dropped by a dying service (oslo acks
on arrival); the operation's outcome can. One that ends in ERROR or never ends is lost
work, reported with its request id and the plan steps it spanned.
"""

from __future__ import annotations

from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict
from harness.load.ledger import Operation, outcomes

NAME = "rpc_end_to_end"
DONE = {"server-create": "ACTIVE", "server-delete": "DELETED"}
IN_FLIGHT = 1.0  # seconds after acceptance in which a create or delete is still in flight


def check(record: RunRecord) -> Verdict:
    ops = outcomes(record.operations)
    if not ops:
        return Verdict(NAME, UNKNOWN, "no asynchronous operation was recorded", {"started": 0})
    lost = [op for op in ops if op.final != DONE.get(op.kind)]
    counts = {"started": len(ops), "completed": len(ops) - len(lost), "lost": len(lost),
              "errored": sum(op.final == "ERROR" for op in lost)}  # fmt: skip
    if not lost:
        return Verdict(NAME, PASS, f"all {len(ops)} accepted operations completed", counts)
    evidence = [_evidence(op, record) for op in lost]
    first = evidence[0]
    summary = (
        f"{len(lost)} of {len(ops)} accepted operations never completed; first: "
        f"{first['operation']} {first['server_id']} ended {first['final']} "
        f"(request {first['request_id']}), spanning {', '.join(first['steps']) or 'no step'}"
    )
    return Verdict(NAME, FAIL, summary, counts, evidence)


def _evidence(op: Operation, record: RunRecord) -> dict:
    end = op.finished or op.extra.get("given_up") or op.accepted
    steps = [text for start, stop, text in record.timeline.steps
             if start <= end and stop >= op.accepted]  # fmt: skip
    # The steps that began within a second of it being accepted: work accepted a moment
    # before a service stops is in that service's hands when it stops (seen: a create
    # accepted 0.04 s before the conductor's stop began; its compute's calls to the
    # conductor were never answered).
    soon = [text for start, _, text in record.timeline.steps
            if op.accepted < start <= op.accepted + IN_FLIGHT]  # fmt: skip
    return {"operation": op.kind, "server_id": op.server_id, "request_id": op.request_id,
            "accepted": op.accepted, "final": op.final,
            "accepted_during": record.timeline.step_at(op.accepted), "steps": steps,
            "began_within_1s": soon,
            "client": op.client}  # fmt: skip
