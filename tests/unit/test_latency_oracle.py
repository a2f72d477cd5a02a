"""Oracle 9, latency: each phase's p50/p99 per API against the pre-roll baseline's, within
the scenario's budget — on crafted ledgers: it must fail on a phase that is slow and pass
on one that is not, and judge nothing on too few requests."""

from __future__ import annotations

from harness.checks.oracles import latency
from harness.checks.oracles.latency import LatencyBudget
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN
from harness.load.ledger import Request

EVENTS = [
    {"t": 0.0, "event": "phase-start", "phase": "baseline"},
    {"t": 30.0, "event": "phase-end", "phase": "baseline"},
    {"t": 30.0, "event": "step-start", "id": "6.1", "phase": "nova", "description": "nova x"},
    {"t": 60.0, "event": "step-end", "id": "6.1"},
    {"t": 60.0, "event": "step-start", "id": "6.2", "phase": "nova", "description": "nova y"},
    {"t": 90.0, "event": "step-end", "id": "6.2"},
    {"t": 91.0, "event": "phase-start", "phase": "verify"},
    {"t": 95.0, "event": "phase-end", "phase": "verify"},
]  # fmt: skip


def requests(t0: float, t1: float, ms: float, api: str = "nova-api", n: int = 40,
             slow: tuple[float, ...] = ()) -> list[Request]:  # fmt: skip
    """n requests of `ms` spread over [t0, t1), the last ones taking `slow` ms instead."""
    out = []
    for i in range(n):
        sent = t0 + (t1 - t0) * i / n
        took = slow[i - (n - len(slow))] if i >= n - len(slow) else ms
        out.append(Request("c1", sent, sent + took / 1000, "GET", f"{api.split('-')[0]} GET /",
                           200, (200,), None, "controller", f"req-{i}", api=api))  # fmt: skip
    return out


def judged(reqs: list[Request], budget: LatencyBudget | None = None):
    return latency.check(RunRecord(Timeline.from_events(EVENTS), reqs, events=EVENTS,
                                   latency=budget))  # fmt: skip


def test_a_phase_as_fast_as_its_baseline_passes_and_the_table_has_every_window():
    v = judged(requests(0, 30, 10) + requests(30, 90, 12) + requests(91, 95, 11, n=5))
    assert v.status == PASS and v.counts["judged"] == 1 and v.counts["not_judged"] == 1
    assert list(v.counts["table"]) == ["baseline", "nova", "verify"]
    assert v.counts["table"]["nova"]["nova-api"] == {"n": 40, "p50": 12.0, "p99": 12.0}


def test_a_slow_tail_in_a_phase_fails_its_p99_and_names_the_slowest_request_and_step():
    slow = (3100.0,) * 3  # 3 requests of 120 at 3.1 s: the p99 during a roll
    v = judged(requests(0, 30, 200, n=120) + requests(30, 90, 210, n=120, slow=slow))
    assert v.status == FAIL and len(v.evidence) == 1
    e = v.evidence[0]
    assert (e["api"], e["phase"], e["metric"]) == ("nova-api", "nova", "p99")
    assert e["value_ms"] == 3100.0 and e["baseline_ms"] == 200.0 and e["budget_ms"] == 2700.0
    assert e["slowest"]["ms"] == 3100.0 and e["slowest"]["step"].startswith("6.2 ")
    # the same tail in 40 requests is one request's luck: p99 not judged, p50 fine
    few = judged(requests(0, 30, 200) + requests(30, 90, 210, slow=slow[:1]))
    assert few.status == PASS
    assert judged(requests(0, 30, 200) + requests(30, 90, 210, slow=slow[:1]),
                  LatencyBudget(p99_min_requests=30)).status == FAIL  # fmt: skip


def test_a_slow_median_fails_p50_and_each_api_is_judged_on_its_own_baseline():
    reqs = (requests(0, 30, 10) + requests(0, 30, 400, api="keystone-api")
            + requests(30, 90, 600) + requests(30, 90, 450, api="keystone-api"))  # fmt: skip
    v = judged(reqs)
    # nova: p50 600 > max(3 × 10, 10 + 250); p99 600 ≤ 10 + 2500. keystone: 450 within 400's.
    assert [(e["api"], e["metric"]) for e in v.evidence] == [("nova-api", "p50")]


def test_the_scenarios_budget_decides_and_too_few_requests_are_not_judged():
    reqs = requests(0, 30, 10) + requests(30, 90, 300)
    assert judged(reqs).status == FAIL  # p50 300 ms > max(3 × 10, 10 + 250)
    assert judged(reqs, LatencyBudget(p50_slack_ms=400)).status == PASS
    few = requests(0, 30, 10, n=5) + requests(30, 90, 5000)
    v = judged(few)
    assert v.status == PASS and v.counts["judged"] == 0 and "too few" in v.summary


def test_no_request_before_the_roll_is_unknown():
    assert judged([]).status == UNKNOWN


def test_the_loads_warm_up_is_not_baseline():
    """An API's first requests after a start are slow (seen: 5 s from a restarted nova-api);
    as baseline they would raise its budget past a 3 s freeze."""
    cold = requests(0, 4, 5000, n=8)  # the load's first 4 s
    reqs = cold + requests(4, 30, 10, n=120) + requests(30, 90, 12, n=120, slow=(3000.0,) * 3)
    v = judged(reqs)
    assert v.status == FAIL and v.evidence[0]["baseline_ms"] == 10.0, v.summary
    assert judged(reqs, LatencyBudget(warmup_s=0)).status == PASS


def test_a_request_in_flight_when_the_roll_begins_waits_on_the_roll_not_in_the_baseline():
    """Seen: a request sent 0.2 s before a 15 s freeze, answered 15 s later, counted in the
    baseline made its p99 15 s and hid the freeze."""
    frozen = [Request("c2", 29.8 + i / 100, 45.0, "GET", "nova GET /", 200, (200,), None,
                      "controller", f"req-f{i}", api="nova-api") for i in range(3)]  # fmt: skip
    reqs = requests(0, 29.5, 10, n=150) + frozen + requests(45, 90, 12, n=120)
    v = judged(reqs, LatencyBudget(p99_min_requests=100))
    assert v.status == FAIL, v.summary
    e = v.evidence[0]
    assert (e["phase"], e["metric"], e["baseline_ms"]) == ("nova", "p99", 10.0)
    assert e["slowest"]["step"].startswith("6.1 ")  # the step it waited through
    assert v.counts["table"]["baseline"]["nova-api"]["n"] == 124  # the first 5 s: warm-up
    assert v.counts["table"]["nova"]["nova-api"]["n"] == 123


SHORT = [
    {"t": 0.0, "event": "phase-start", "phase": "baseline"},
    {"t": 30.0, "event": "phase-end", "phase": "baseline"},
] + [
    e
    for i, phase in enumerate(("keystone", "glance", "placement"))
    for e in ({"t": 30.0 + 10 * i, "event": "step-start", "id": f"{i + 2}.1", "phase": phase,
               "description": f"{phase} x"},
              {"t": 40.0 + 10 * i, "event": "step-end", "id": f"{i + 2}.1"})
]  # fmt: skip


def short_phases(ms: float) -> RunRecord:
    """glance answers 40 requests in the baseline and 10 in each of three short phases."""
    reqs = requests(0, 30, 10, api="glance-api")
    for t0 in (30, 40, 50):
        reqs += requests(t0, t0 + 10, ms, api="glance-api", n=10)
    return RunRecord(Timeline.from_events(SHORT), reqs, events=SHORT)


def test_an_api_with_too_few_requests_per_phase_is_judged_over_those_phases_together():
    v = latency.check(short_phases(600))  # 600 ms > max(3 × 10, 10 + 250), in every phase
    assert v.status == FAIL and v.counts["judged"] == 0 and v.counts["pooled"] == 1
    e = v.evidence[0]
    assert (e["api"], e["phase"], e["metric"], e["requests"]) == (
        "glance-api",
        latency.POOLED,
        "p50",
        30,
    )
    assert e["phases"] == ["keystone", "glance", "placement"]
    calm = latency.check(short_phases(12))
    assert calm.status == PASS and "taken together" in calm.summary
    assert calm.counts["table"][latency.POOLED]["glance-api"]["n"] == 30
    assert calm.counts["not_judged"] == 0  # every phase of glance's was judged
