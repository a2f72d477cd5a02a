"""Oracle 3b, the end-to-end ledger: every asynchronous operation the API accepted (a
server create or delete; a volume create, attach, detach or delete) reaches its final
state — ACTIVE, in-use, available, gone — within a bound after the roll. The bus cannot
see a message acked and then dropped by a dying service (oslo acks on arrival); the
operation's outcome can. One that ends in ERROR or never ends is lost work, reported with
its request id and the plan steps it spanned.

The ledgers are joined by the request id: every RPC message nova sends for the operation
carries the API request's id in its context (the bus trace records it), so a lost
operation names the message that lost it ("lost_message"): the first call of its request
the broker delivered and nothing answered, else the request's last cast the broker
delivered (the process that took it held the work last). A known finding then
matches the mechanism — what was lost, on which queue, in which step — not the step the
operation happened to be accepted in. The services' logs are joined the same way: the first
error record of the request ("logged": process, node, message), the one that says why a
build ended in ERROR.
"""

from __future__ import annotations

from harness.checks import failover
from harness.checks.oracles import rpc_bus, service_logs
from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict
from harness.load.ledger import DONE, Operation, outcomes

NAME = "rpc_end_to_end"
UNIT = "operations"  # what one piece of its evidence is
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
    by_request = messages_by_request(record.bus)
    answered = answered_calls(record.bus)
    logged = first_errors(record.logs)
    evidence = [
        {**_evidence(op, record, by_request.get(op.request_id, []), answered),
         "logged": logged.get(op.request_id)}
        for op in lost
    ]  # fmt: skip
    evidence, counts["failover_excused"] = _failovers_spared(
        evidence, failover.windows(record.events)
    )
    if not evidence:
        spared = counts["failover_excused"]
        return Verdict(NAME, PASS, f"all {len(ops)} accepted operations completed but "
                       f"{spared}, the cost of VIP failovers", counts)  # fmt: skip
    first = evidence[0]
    summary = (
        f"{len(lost)} of {len(ops)} accepted operations never completed; first: "
        f"{first['operation']} {first['resource_id']} ended {first['final']} "
        f"(request {first['request_id']}), spanning {', '.join(first['steps']) or 'no step'}"
    )
    return Verdict(NAME, FAIL, summary, counts, evidence)


def _evidence(op: Operation, record: RunRecord, messages: list[dict], answered: set) -> dict:
    end = op.finished or op.extra.get("given_up") or op.accepted
    steps = [text for start, stop, text in record.timeline.steps
             if start <= end and stop >= op.accepted]  # fmt: skip
    # The steps that began within a second of it being accepted: work accepted a moment
    # before a service stops is in that service's hands when it stops (seen: a create
    # accepted 0.04 s before the conductor's stop began; its compute's calls to the
    # conductor were never answered).
    soon = [text for start, _, text in record.timeline.steps
            if op.accepted < start <= op.accepted + IN_FLIGHT]  # fmt: skip
    return {"operation": op.kind, "resource_id": op.resource_id, "request_id": op.request_id,
            "accepted": op.accepted, "final": op.final,
            "accepted_during": record.timeline.step_at(op.accepted), "steps": steps,
            "began_within_1s": soon,
            "lost_message": lost_message(messages, answered, record),
            "client": op.client}  # fmt: skip


def _failovers_spared(evidence: list[dict],
                      windows: list[failover.Window]) -> tuple[list[dict], int]:  # fmt: skip
    """An operation whose first error was a connection to the VIP cut in a failover of the
    scenario's is that failover's cost (seen: a server delete set to ERROR by nova-compute,
    whose call to placement through the VIP was refused while the VIP moved), up to its
    budget; above it, every one of them counts."""

    def window_of(e: dict) -> failover.Window | None:
        logged = e.get("logged")
        return failover.cut_off(windows, logged["t"], logged["message"]) if logged else None

    left, excused = failover.within_budget(*failover.grouped(evidence, windows, window_of),
                                           windows)  # fmt: skip
    return sorted(left, key=lambda e: e["accepted"]), excused


def first_errors(logs: dict[str, str] | None) -> dict[str, dict]:
    """request id → its first error record in any service's log."""
    out: dict[str, dict] = {}
    records, _ = service_logs.parse_all(logs or {})
    for r in sorted(records, key=lambda r: r.t):
        for request in r.requests:
            out.setdefault(request, service_logs.brief(r))
    return out


def answered_calls(bus: list[dict] | None) -> set[str]:
    """Every msg_id the bus saw a reply to (a reply carries no context, only the id)."""
    return {m["msg_id"] for m in bus or () if m.get("role") == "reply" and m.get("msg_id")}


def messages_by_request(bus: list[dict] | None,
                        field: str = "request_id") -> dict[str, list[dict]]:  # fmt: skip
    """request id → its messages' trace records, in time order (`field`: the API's id for
    the request, or the global one its caller sent)."""
    out: dict[str, list[dict]] = {}
    for m in sorted(bus or (), key=lambda m: m["t"]):
        if m.get(field):
            out.setdefault(m[field], []).append(m)
    return out


def lost_message(messages: list[dict], answered: set[str], record: RunRecord) -> dict | None:
    """Where the request's work stopped: a call delivered and never answered; else the
    request's last cast that was delivered — the message that put the work in the hands
    of the process that held it last (a call it made since was answered, so the work came
    back to it: seen, a conductor that took a build's cast while stopping, had its
    select_destinations answered, then failed on shutdown). None without a trace, or when
    no cast or call of the request reached a queue. (A reply carries no context:
    `answered` holds every msg_id the bus saw a reply to.)"""
    rpc = [m for m in messages if m.get("role") in ("call", "cast")]
    delivered = [m for m in rpc if m["kind"] == "deliver"]
    calls = [m for m in delivered if m["role"] == "call" and m.get("msg_id") not in answered]
    if calls:
        return _message(calls[0], record, answered=False)
    casts = [m for m in delivered if m["role"] == "cast"]
    return _message(casts[-1], record, answered=None) if casts else None


def _message(m: dict, record: RunRecord, answered: bool | None) -> dict:
    """The lost message, with the steps that ran while it was in its consumer's hands
    ("in_hand": a call's until its caller gave up; a cast's, the second after delivery in
    which its consumer works on it, IN_FLIGHT)."""
    hold = rpc_bus.caller_waits(m) if m["role"] == "call" else IN_FLIGHT
    return {"role": m["role"], "method": m.get("method"), "queue": m.get("queue"),
            "delivered": m["t"], "delivered_step": record.timeline.step_at(m["t"]),
            "in_hand": record.timeline.steps_between(m["t"], m["t"] + hold),
            "answered": answered}  # fmt: skip
