"""Oracle 2, monotonic max microversion: if response r1 was received before request r2
was sent, then version(r2) >= version(r1) — globally and per client. A violation names
both responses and the backends that gave them."""

from __future__ import annotations

from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict
from harness.load.ledger import Request, version_key

NAME = "monotonic_version"
UNIT = "requests"  # what one piece of its evidence is


def violations(requests: list[Request]) -> list[tuple[Request, Request]]:
    """(earlier, later) pairs where `later` offered a lower max version than `earlier`,
    which was received before `later` was sent. One pair per offending response, against
    the highest version received before it was sent. O(n log n)."""
    by_received = sorted(requests, key=lambda r: r.received)
    best: Request | None = None
    i, out = 0, []
    for r in sorted(requests, key=lambda r: r.sent):
        while i < len(by_received) and by_received[i].received < r.sent:
            cand = by_received[i]
            if best is None or version_key(cand.max_version) > version_key(best.max_version):
                best = cand
            i += 1
        if best is not None and version_key(r.max_version) < version_key(best.max_version):
            out.append((best, r))
    return out


def check(record: RunRecord) -> Verdict:
    requests, timeline = record.requests, record.timeline
    docs = [r for r in requests if r.max_version]
    if not docs:
        return Verdict(NAME, UNKNOWN, "no version document was recorded", {"documents": 0})
    pairs = violations(docs)
    per_client = []
    for client in sorted({r.client for r in docs}):
        per_client += violations([r for r in docs if r.client == client])
    counts = {"documents": len(docs), "violations": len(pairs), "per_client": len(per_client)}
    if not pairs:
        seen = sorted({r.max_version for r in docs}, key=version_key)
        return Verdict(NAME, PASS, f"{len(docs)} version documents, never lower: {seen}", counts)
    evidence = [_pair(a, b, timeline) for a, b in (per_client or pairs)]
    a, b = pairs[0]
    summary = (
        f"{len(pairs)} responses offered a lower max version than one received before them "
        f"({len(per_client)} within one client); first: {a.max_version} from {a.backend} "
        f"then {b.max_version} from {b.backend}"
    )
    return Verdict(NAME, FAIL, summary, counts, evidence)


def _pair(a: Request, b: Request, timeline: Timeline) -> dict:
    def side(r: Request) -> dict:
        return {"client": r.client, "sent": r.sent, "received": r.received,
                "request": f"{r.method} {r.name}", "max_version": r.max_version,
                "backend": r.backend,
                "backend_release": timeline.release_at(r.backend, "nova-api", r.received),
                "request_id": r.request_id}  # fmt: skip

    return {"earlier": side(a), "later": side(b), "step": timeline.step_at(b.sent)}
