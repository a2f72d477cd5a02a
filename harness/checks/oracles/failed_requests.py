"""Oracle 1, failed requests: zero requests through the VIP answered 5xx, ended without an
answer (refused, reset, timeout), or answered a 4xx that is not the expected answer; a VIP
failover of the scenario's (checks/failover.py) may cost its stated budget, no more.
Each failure is attributed: time, request, status or error, the backend that served it,
that backend's release then, the plan step in progress, and the request id. A request
that waited on RPC names the message that lost it ("lost_message", as the end-to-end
ledger does): its RPC messages carry the global request id the load sent with it, which
joins even a request that never got an answer (a read timeout) to the bus trace."""

from __future__ import annotations

import re

from harness.checks import failover
from harness.checks.oracles import rpc_end_to_end
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict
from harness.load.ledger import Request

NAME = "failed_requests"
# An answer cut off: the connection reset, or closed with no answer.
RESET = re.compile(r"ConnectionResetError|RemoteDisconnected|Connection aborted|BrokenPipe")
UNIT = "requests"  # what one piece of its evidence is


def check(record: RunRecord) -> Verdict:
    requests, timeline = record.requests, record.timeline
    if not requests:
        return Verdict(NAME, UNKNOWN, "no request was recorded", {"requests": 0, "count": 0})
    failures = sorted((r for r in requests if r.failed), key=lambda r: r.sent)
    failures, excused = _failover_excused(failures, requests, failover.windows(record.events))
    counts = {"requests": len(requests), "count": len(failures), "failover_excused": excused}
    spared = f" ({excused} in VIP failovers, within their budget)" if excused else ""
    if not failures:
        return Verdict(NAME, PASS, f"0 of {len(requests)} requests failed{spared}", counts)
    by_request = rpc_end_to_end.messages_by_request(record.bus, "global_request_id")
    answered = rpc_end_to_end.answered_calls(record.bus)
    evidence = [
        {**attribute(r, timeline),
         "lost_message": rpc_end_to_end.lost_message(
             by_request.get(r.global_request_id, []), answered, record)}
        for r in failures
    ]  # fmt: skip
    first = evidence[0]
    summary = (
        f"{len(failures)} of {len(requests)} requests failed{spared}; first: "
        f"{first['request']} {first['status'] or first['error']} from "
        f"{first['backend'] or 'no backend'} during {first['step'] or 'no step'}"
    )
    return Verdict(NAME, FAIL, summary, counts, evidence)


def _failover_excused(failures: list[Request], requests: list[Request],
                      windows: list[failover.Window]) -> tuple[list[Request], int]:  # fmt: skip
    """The failures left once each failover's are excused, if no more than its budget
    (above it, every one of them counts), and how many were excused."""
    left, excused = failover.within_budget(*by_failover(failures, requests, windows), windows)
    return sorted(left, key=lambda r: r.sent), excused


def by_failover(
    failures: list[Request], requests: list[Request], windows: list[failover.Window]
) -> tuple[list[Request], dict[int, list]]:
    """(the failures no failover explains, {window index: the failures that are its
    cost}). A failover's are those in flight in its window, and a connection reset on a
    kept-alive connection whose client last used it before the VIP moved (the connection
    was to the old holder)."""
    last = _last_use(requests) if windows else {}

    def window_of(r: Request) -> failover.Window | None:
        w = failover.spanning(windows, r.sent, r.received)
        if w is None and RESET.search(r.error or "") and id(r) in last:
            w = failover.stale(windows, last[id(r)], r.sent)
        return w

    return failover.grouped(failures, windows, window_of)


def _last_use(requests: list[Request]) -> dict[int, float]:
    """id of each request sent on a kept-alive connection → when its client last sent on
    that connection before: one connection per client and API (the API's port on the
    VIP), closed after a request that asked for that (`Connection: close`) or got no
    answer, so that the next one opens a new connection."""
    last: dict[tuple[str, str], float] = {}
    out: dict[int, float] = {}
    for r in sorted(requests, key=lambda r: r.sent):
        key = (r.client, r.api_process)
        if key in last:
            out[id(r)] = last[key]
        if r.fresh_connection or r.status is None:
            last.pop(key, None)
        else:
            last[key] = r.sent
    return out


def attribute(r: Request, timeline: Timeline) -> dict:
    process = r.api_process  # which API process answered, for the backend's release
    return {
        "sent": r.sent,
        "request": f"{r.method} {r.name}",
        "status": r.status,
        "error": r.error,
        "backend": r.backend,
        "backend_release": timeline.release_at(r.backend, process, r.received),
        # The step in progress when it failed; else when it was sent (a timeout, say).
        "step": timeline.step_at(r.received) or timeline.step_at(r.sent),
        "request_id": r.request_id,
        "client": r.client,
    }
