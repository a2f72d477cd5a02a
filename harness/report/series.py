"""Time series for the report, from the request ledger: per-second request and failure
counts, latency percentiles per bucket, and the highest max microversion seen so far."""

from __future__ import annotations

import math
from collections import defaultdict

from harness.load.ledger import Request, version_key


def per_second(requests: list[Request], t0: float) -> dict[int, tuple[int, int]]:
    """second → (requests sent, failed requests sent)."""
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in requests:
        bucket = out[int(r.sent - t0)]
        bucket[0] += 1
        bucket[1] += r.failed
    return {s: (n, f) for s, (n, f) in out.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def latency(requests: list[Request], t0: float, bucket: float = 5.0) -> list[tuple]:
    """(bucket start in s, p50 ms, p99 ms) for answered requests, by send time."""
    buckets: dict[int, list[float]] = defaultdict(list)
    for r in requests:
        if r.status is not None:
            buckets[int((r.sent - t0) // bucket)].append((r.received - r.sent) * 1000)
    return [(b * bucket, percentile(v, 0.5), percentile(v, 0.99))
            for b, v in sorted(buckets.items())]  # fmt: skip


def max_version(requests: list[Request], t0: float) -> list[tuple[float, str]]:
    """(time received, max microversion offered) for every version document, in time."""
    docs = sorted((r for r in requests if r.max_version), key=lambda r: r.received)
    return [(r.received - t0, r.max_version) for r in docs]


def versions_in_order(points: list[tuple[float, str]]) -> list[str]:
    return sorted({v for _, v in points}, key=version_key)
