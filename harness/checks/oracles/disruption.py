"""Oracle 11, disruption: no API backend goes away while it is in rotation. HAProxy's retries
and redispatch hide a refusing backend from the clients (measured before this oracle: 0 of
35 undrained nova-api outages of 0.1 to 5 s failed a request), so a backend's outage is
looked for where it shows even when no client saw it:

- the probes (harness/probe): a TCP connect to every backend's own address every 0.1 s
  (refused, reset, unanswered) and an HTTP GET of its health path every 1 s (no answer
  within 10 s, or a 5xx); the same through the VIP ("haproxy@vip": whichever HAProxy
  holds it), where a VIP failover of the scenario's may cost its stated seconds
  (checks/failover.py);
- HAProxy's log (checks/haproxy_log.py): a request it had to retry (on the server it names)
  or redispatch (it names the server that finally answered: the outage is the frontend's
  other server in rotation),
  a request the server side ended (termination state S… or s…), a health check taking a
  server DOWN.

A failure of a backend while HAProxy had it drained or in maintenance (the admin socket:
the plan draining it before a stop, until it is ready again) is excused, and so are
failures outside the watch (the probes' own start and stop). The others, per backend,
merged when less than MERGE_S apart, are outages: a failure, attributed to backend,
release and step, even when no request failed.

Evidence, one per outage: {"backend": "nova-api@controller", "api", "node", "start",
"end", "seconds", "failures", "kinds", "first", "release", "step"}.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.checks import failover, haproxy_log
from harness.checks.haproxy_log import Forwarded, StateChange
from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict
from harness.probe.ledger import VIP_API

NAME = "disruption"
UNIT = "outages"
MERGE_S = 1.0  # failures of one backend closer than this are one outage
GRACE_S = 0.5  # HAProxy's log and the probes are stamped by different processes
ADMIN = {"drain", "maint"}


@dataclass(frozen=True)
class Failure:
    api: str
    node: str
    t: float
    kind: str  # e.g. "connect refused", "http timeout", "retried by HAProxy", "check DOWN"
    until: float = 0.0  # a probe left unanswered: the backend was silent until then


def check(record: RunRecord) -> Verdict:
    probes = record.probes
    # Every balancer's log (each node's HAProxy with keepalived): a request was forwarded by
    # one of them, and each logs the admin states the roll sent to all.
    texts = [t for name, t in sorted((record.logs or {}).items()) if name.endswith("/haproxy.log")]
    if probes is None and not texts:
        return Verdict(NAME, UNKNOWN, "no probe ledger and no HAProxy log to judge")
    forwarded, changes = haproxy_log.parse("".join(t if t.endswith("\n") else t + "\n"
                                                   for t in texts))  # fmt: skip
    t0, t1 = _window(probes, record)
    servers = _servers(probes, forwarded, changes)
    admin = _admin(changes)
    found = _probe_failures(probes) + _haproxy_failures(forwarded, changes, servers, admin)
    failures = [f for f in found if t0 <= f.t <= t1]
    counted = [f for f in failures if not _excused(f, admin)]
    outages, spared = _failovers_spared(_outages(counted), failover.windows(record.events))
    counts = {"backends": sum(map(len, servers.values())), "probes": _probe_count(probes),
              "forwarded": sum(t0 <= f.t <= t1 for f in forwarded),
              "retried": sum(t0 <= f.t <= t1 and f.retries > 0 for f in forwarded),
              "failures": len(failures), "excused": len(failures) - len(counted),
              "outages": len(outages), "failover_excused": spared,
              "probe_late_s": _late(probes)}  # fmt: skip
    evidence = [_evidence(o, record) for o in outages]
    if not evidence:
        summary = (f"no outage of a backend in rotation: {counts['probes']} probes of "
                   f"{counts['backends']} backends, {counts['forwarded']} requests through "
                   f"HAProxy, {counts['excused']} failures while drained")  # fmt: skip
        return Verdict(NAME, PASS, summary, counts)
    e = evidence[0]
    summary = (
        f"{len(evidence)} outages of backends in rotation; first: {e['backend']} for "
        f"{e['seconds']:.1f} s ({', '.join(e['kinds'])}) in {e['step'] or 'no step'}"
    )
    return Verdict(NAME, FAIL, summary, counts, evidence)


def _window(probes: list[dict] | None, record: RunRecord) -> tuple[float, float]:
    """The probes' own span; without probes, the run's events'."""
    marks = [p.get("started") or p.get("stopped") for p in probes or []
             if "started" in p or "stopped" in p]  # fmt: skip
    if len(marks) >= 2:
        return min(marks), max(marks)
    times = [e["t"] for e in record.events]
    return (min(times), max(times)) if times else (float("-inf"), float("inf"))


def _servers(probes, forwarded: list[Forwarded],
             changes: list[StateChange]) -> dict[str, set[str]]:  # fmt: skip
    """Frontend (the API) → its servers (the nodes), from whatever named them."""
    out: dict[str, set[str]] = {}
    for p in probes or []:
        for b in p.get("backends", ()):
            out.setdefault(b["api"], set()).add(b["node"])
    for x in [*forwarded, *changes]:
        if not x.server.startswith("<"):
            out.setdefault(x.frontend, set()).add(x.server)
    return out


def _admin(changes: list[StateChange]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(frontend, server) → the spans HAProxy held it drained or in maintenance."""
    spans: dict[tuple[str, str], list[tuple[float, float]]] = {}
    began: dict[tuple[str, str], float] = {}
    for c in sorted(changes, key=lambda c: c.t):
        key = (c.frontend, c.server)
        if c.event in ADMIN:
            began.setdefault(key, c.t)
        elif c.event == "ready" and key in began:
            spans.setdefault(key, []).append((began.pop(key), c.t))
    for key, t in began.items():
        spans.setdefault(key, []).append((t, float("inf")))
    return spans


def _excused(f: Failure, admin: dict) -> bool:
    return any(a - GRACE_S <= f.t <= b + GRACE_S for a, b in admin.get((f.api, f.node), ()))


def _probe_failures(probes: list[dict] | None) -> list[Failure]:
    """A probe that went unanswered failed when it was sent; one refused, reset or
    answered 5xx, when its answer came (a starved probe thread may send late)."""
    out = []
    for p in probes or []:
        if "failure" not in p:
            continue
        end = p["t"] + p["ms"] / 1000
        start = p["t"] if p["failure"] == "timeout" else end
        out.append(Failure(p["api"], p["node"], start, f"{p['probe']} {p['failure']}", end))
    return out


def _haproxy_failures(forwarded: list[Forwarded], changes: list[StateChange],
                      servers: dict[str, set[str]], admin: dict) -> list[Failure]:  # fmt: skip
    out = [Failure(c.frontend, c.server, c.t, "check DOWN") for c in changes if c.event == "down"]
    for f in forwarded:
        if f.termination[:1] in ("S", "s") and f.server in servers.get(f.frontend, ()):
            out.append(Failure(f.frontend, f.server, f.t, f"ended by the server ({f.termination})"))
        elif f.retries > 0 and not f.redispatched:  # retried on the server that answered
            out.append(Failure(f.frontend, f.server, f.t, "retried by HAProxy"))
        elif f.retries > 0:  # redispatched: the one that failed is another one in rotation
            others = [s for s in sorted(servers.get(f.frontend, ())) if s != f.server
                      and not _excused(Failure(f.frontend, s, f.t, ""), admin)]  # fmt: skip
            out += [Failure(f.frontend, s, f.t, "redispatched by HAProxy") for s in others]
    return out


Outage = list[Failure]


def _failovers_spared(outages: list[Outage], windows: list[failover.Window]) -> tuple[list, int]:
    """The VIP's own silences in a failover of the scenario's, no longer than its budget,
    are its cost, not an outage (checks/failover.py); the others are left."""
    kept = []
    for o in outages:
        w = failover.within(windows, o[0].t)
        if o[0].api == VIP_API and w and _end(o) - o[0].t <= w.allowed_s:
            continue
        kept.append(o)
    return kept, len(outages) - len(kept)


def _outages(failures: list[Failure]) -> list[list[Failure]]:
    by_backend: dict[tuple[str, str], list[Failure]] = {}
    for f in sorted(failures, key=lambda f: f.t):
        by_backend.setdefault((f.api, f.node), []).append(f)
    outages = []
    for fs in by_backend.values():
        current = [fs[0]]
        for f in fs[1:]:
            if f.t - _end(current) < MERGE_S:
                current.append(f)
            else:
                outages.append(current)
                current = [f]
        outages.append(current)
    return sorted(outages, key=lambda o: o[0].t)


def _end(outage: list[Failure]) -> float:
    return max(max(f.t, f.until) for f in outage)


def _evidence(outage: list[Failure], record: RunRecord) -> dict:
    first, end = outage[0], _end(outage)
    return {
        "backend": f"{first.api}@{first.node}", "api": first.api, "node": first.node,
        "start": first.t, "end": end, "seconds": round(end - first.t, 3),
        "failures": len(outage), "kinds": sorted({f.kind for f in outage}), "first": first.kind,
        "release": record.timeline.release_at(first.node, first.api, first.t),
        "step": record.timeline.step_at(first.t),
    }  # fmt: skip


def _probe_count(probes: list[dict] | None) -> int:
    return sum(
        n for p in probes or [] for row in p.get("counts", {}).values() for n in row.values()
    )


def _late(probes: list[dict] | None) -> float:
    """The probe loops' worst lateness: how long the probing itself was blind."""
    return max((p.get("late_s", 0.0) for p in probes or []), default=0.0)
