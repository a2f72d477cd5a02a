"""Oracle 11, disruption: a backend in rotation that refuses, resets or stops answering is an
outage even when HAProxy's retries spared every client — on crafted probe ledgers and
HAProxy logs (the format the embedded HAProxy writes): it must fail on an undrained
outage, pass when the same failures fall while HAProxy held the backend drained."""

from __future__ import annotations

from harness.checks import haproxy_log
from harness.checks.oracles import disruption
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN

T0 = 1_796_300_000.0
EVENTS = [
    {"t": T0 + 10, "event": "releases", "releases": {"controller": {"nova-api": "2026.1"}}},
    {"t": T0 + 10, "event": "step-start", "id": "6.14", "description": "nova-api restart"},
    {"t": T0 + 30, "event": "step-end", "id": "6.14"},
]  # fmt: skip
BACKENDS = [{"api": "nova-api", "node": n, "address": a, "port": 8774, "path": "/"}
            for n, a in (("controller", "10.0.0.1"), ("compute-api", "10.0.0.2"))]  # fmt: skip


def iso(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def state(t: float, text: str) -> str:
    return f"{iso(T0 + t)} Server nova-api/controller {text}"


def request(t: float, server: str = "compute-api", rc: str = "0", tsc: str = "----") -> str:
    """A request that began at t on a kept-alive connection idle for 1 s before it."""
    return (f"{iso(T0 + t - 1)} haproxy-request {T0 + t - 1:.3f} 1000 nova-api {server} 200 "
            f'{tsc} {rc} 0 5 5 "GET /v2.1/servers HTTP/1.1"')  # fmt: skip


def probes(*failures: tuple[float, str]) -> list[dict]:
    out = [{"started": T0, "backends": BACKENDS}]
    out += [{"t": T0 + t, "api": "nova-api", "node": "controller", "probe": "connect",
             "failure": what, "ms": 0.2} for t, what in failures]  # fmt: skip
    out += [{"tick": T0 + 40, "counts": {"nova-api@controller": {"connect": 400, "http": 40}},
             "late_s": 0.03}, {"stopped": T0 + 60}]  # fmt: skip
    return out


def judged(probe_records: list[dict] | None, *log_lines: str):
    logs = {"controller/haproxy.log": "\n".join(log_lines)} if log_lines else {}
    return disruption.check(RunRecord(Timeline.from_events(EVENTS), events=EVENTS, logs=logs,
                                      probes=probe_records))  # fmt: skip


def test_the_log_format_the_embedded_haproxy_writes_is_the_one_parsed():
    forwarded, changes = haproxy_log.parse("\n".join([
        request(1, rc="+1"), state(2, "enters drain state. 0 active"),
        state(3, "is DOWN, reason: Layer4 connection problem"),
        state(4, "is UP (leaving forced drain)."), state(5, "is going DOWN for maintenance."),
        state(6, "is UP/READY (leaving forced maintenance)."), "[WARNING]  (1) : noise",
    ]))  # fmt: skip
    assert [(f.server, f.retries, f.redispatched) for f in forwarded] == [("compute-api", 1, True)]
    assert [c.event for c in changes] == ["drain", "down", "ready", "maint", "ready"]
    assert abs(changes[0].t - (T0 + 2)) < 1e-3
    from harness.backends.embedded.infra import haproxy

    assert haproxy_log.LOG_FORMAT in haproxy.render.__globals__["LOG_FORMAT"]


def test_an_undrained_refusal_hidden_by_retries_is_an_outage_attributed_to_backend_and_step():
    v = judged(probes((12.0, "refused"), (12.1, "refused"), (12.2, "refused")),
               request(12.05, rc="+1"), request(25))  # fmt: skip
    assert v.status == FAIL and len(v.evidence) == 1, v.summary
    e = v.evidence[0]
    assert (e["backend"], e["release"], e["step"]) == ("nova-api@controller", "2026.1",
                                                       "6.14 nova-api restart")  # fmt: skip
    assert e["failures"] == 4 and e["kinds"] == ["connect refused", "redispatched by HAProxy"]
    assert abs(e["seconds"] - 0.2) < 1e-6 and v.counts["retried"] == 1
    # retried without a redispatch: the server HAProxy names is the one that refused
    v = judged(probes(), request(15, server="controller", rc="2"))
    assert [(e["backend"], e["kinds"]) for e in v.evidence] == [
        ("nova-api@controller", ["retried by HAProxy"])]  # fmt: skip
    # failures more than a second apart are two outages
    assert len(judged(probes((12.0, "refused"), (14.0, "timeout"))).evidence) == 2
    # a backend frozen 10 s: two HTTP probes left unanswered 5 s each are one outage
    frozen = probes()
    frozen[1:1] = [{"t": T0 + t, "api": "nova-api", "node": "controller", "probe": "http",
                    "failure": "timeout", "ms": 5000.0} for t in (12.0, 17.5)]  # fmt: skip
    [e] = judged(frozen).evidence
    assert (e["kinds"], e["start"], e["seconds"]) == (["http timeout"], T0 + 12, 10.5)
    # a server process stopped 0.5 s: its stats unanswered twice in a row, 0.25 s each
    stopped = probes()
    stopped[1:1] = [{"t": T0 + t, "api": "nova-api", "node": "controller", "probe": "alive",
                     "failure": "timeout", "ms": 250.0} for t in (12.0, 12.25)]  # fmt: skip
    [e] = judged(stopped).evidence
    assert (e["kinds"], e["start"], e["seconds"]) == (["alive timeout"], T0 + 12, 0.5)


def test_the_same_failures_while_haproxy_held_the_backend_drained_are_excused():
    lines = (state(11, "enters drain state."), request(12.05, rc="+1"),
             state(13, "is DOWN, reason: Layer4"), state(20, "is UP, reason: Layer7"),
             state(21, "is UP (leaving forced drain)."))  # fmt: skip
    v = judged(probes((12.0, "refused"), (15.0, "refused")), *lines)
    assert v.status == PASS and v.counts["excused"] == 3, (v.summary, v.evidence)
    assert v.counts["probes"] == 440 and v.counts["backends"] == 2
    # once ready again, it counts: a refusal after the drain ended
    assert judged(probes((23.0, "refused")), *lines).status == FAIL

    # a restart's maintenance inside the drain (checks paused), then drained again: HAProxy
    # says "leaving forced maintenance" on the way back to drain, and the span goes on
    lines = (state(11, "enters drain state."), state(12, "is going DOWN for maintenance."),
             state(14, "is UP/DRAIN (leaving forced maintenance)."),
             state(14, "remains in forced drain mode."),
             state(21, "is UP (leaving forced drain)."))  # fmt: skip
    assert judged(probes((12.5, "refused"), (18.0, "timeout")), *lines).passed
    assert judged(probes((23.0, "refused")), *lines).status == FAIL


def test_a_health_check_taking_a_server_down_and_a_server_side_abort_are_outages():
    v = judged(probes(), state(15, "is DOWN, reason: Layer7 timeout"))
    assert v.status == FAIL and v.evidence[0]["kinds"] == ["check DOWN"]
    v = judged(probes(), request(15, server="controller", tsc="SH--"))
    assert v.status == FAIL and v.evidence[0]["kinds"] == ["ended by the server (SH--)"]


def test_outside_the_probes_window_nothing_is_judged_and_without_any_record_it_is_unknown():
    assert judged(probes(), state(-5, "is DOWN, reason: x"), state(70, "is DOWN, reason: x")).passed
    assert judged(None).status == UNKNOWN


def vip_probes(start: float, end: float) -> list[dict]:
    """The VIP's connections refused every 0.1 s from `start` to `end` (s after T0)."""
    out = probes()
    n = round((end - start) / 0.1) + 1
    out[1:1] = [{"t": T0 + start + i * 0.1, "api": "haproxy", "node": "vip", "probe": "connect",
                 "failure": "refused", "ms": 0.2} for i in range(n)]  # fmt: skip
    return out


def with_failover(probe_records: list[dict], allowed_s: float):
    event = {
        "t": T0 + 25,
        "event": "failover",
        "step": "4.8 FAULT stop-vip-haproxy",
        "fault_at": T0 + 20,
        "moved_at": T0 + 22.3,
        "answered_at": T0 + 22.5,
        "restored_at": T0 + 24,
        "allowed_s": allowed_s,
        "allowed_failed": 20,
    }
    events = [*EVENTS, event]
    return disruption.check(RunRecord(Timeline.from_events(events), events=events,
                                      probes=probe_records))  # fmt: skip


def test_the_vips_silence_in_a_failover_is_its_cost_up_to_the_budget_and_an_outage_beyond():
    silent = vip_probes(20.1, 22.4)  # 2.3 s: the check's two failures, then the handover
    v = with_failover(silent, allowed_s=5.0)
    assert v.passed and v.counts["failover_excused"] == 1, (v.summary, v.evidence)
    v = with_failover(silent, allowed_s=2.0)
    assert v.status == FAIL and v.evidence[0]["backend"] == "haproxy@vip"
    assert abs(v.evidence[0]["seconds"] - 2.3) < 1e-6
    # the same silence with no failover in the plan: the VIP itself went away
    assert judged(silent).status == FAIL
