"""The rpc_pins oracle on neutron's object pushes to its agents: every push of a type
reaches each running agent that consumes it, in some version, but for the agent
restarting in the step in progress — judged from the bus trace alone."""

from __future__ import annotations

import re

from harness.checks.oracles import object_pushes, rpc_pins
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS
from harness.services import BY_NAME

PUSHES = BY_NAME["neutron"].pushes
AGENT = "neutron-openvswitch-agent"
NODES = {"10.250.0.11": "controller", "10.250.0.12": "compute-api"}
ENTRY = {"exchange": PUSHES.exchange, "consumers": list(PUSHES.consumers), "nodes": NODES}
OLD = {"controller": {AGENT: "2026.1"}, "compute-api": {AGENT: "2026.1"}}
STEPS = [
    (40, 45, "5.9 neutron-openvswitch-agent on controller: graceful stop, start"),
    (50, 55, "5.11 neutron-openvswitch-agent on compute-api: graceful stop, start"),
]


def push(t, version, routed, kind="Port", request=None, server="10.250.0.11:4000"):
    """A server's publish to one version's exchange and its deliveries to `routed`: queue →
    the consumer's address."""
    exchange = f"neutron-vo-{kind}-{version}_fanout"
    queues = [f"{exchange}_{q}" for q in routed]
    records = [{"kind": "publish", "t": t, "exchange": exchange, "routed_queues": queues,
                "connection": f"{server} -> 10.250.0.11:5672", "request_id": request or f"req-{t}",
                "method": "push", "role": "cast"}]  # fmt: skip
    records += [{"kind": "deliver", "t": t + 0.001, "exchange": exchange, "queue": q,
                 "connection": f"{address}:5000 -> 10.250.0.11:5672", "method": "push"}
                for q, address in zip(queues, routed.values(), strict=True)]  # fmt: skip
    return records


def record(*bus) -> RunRecord:
    new_controller = {**OLD, "controller": {AGENT: "2026.2"}}
    timeline = Timeline(STEPS, [(0, OLD), (45, new_controller)])
    return RunRecord(timeline, bus=[r for records in bus for r in records],
                     pins={"neutron pushes": ENTRY}, logs={})  # fmt: skip


BOTH_OLD = {"a": "10.250.0.11", "b": "10.250.0.12"}


def test_pushes_in_every_version_an_agent_consumes_pass():
    v = rpc_pins.check(record(
        push(10, "1.10", BOTH_OLD),
        push(20, "1.10", BOTH_OLD), push(20, "1.11", {}),  # the new server: both versions
        push(60, "1.10", {"b": "10.250.0.12"}), push(60, "1.11", {"c": "10.250.0.11"}),
    ))  # fmt: skip
    assert v.status == PASS, v.summary
    # the first push is how the oracle learns who consumes: judged from the second on
    assert v.counts["agent_pushes"] == 4 and v.counts["pushes_missed"] == 0


def test_a_server_pushing_only_its_own_version_misses_the_old_agents():
    v = rpc_pins.check(record(push(10, "1.10", BOTH_OLD), push(20, "1.11", {})))
    assert v.status == FAIL
    assert v.counts["pushes_missed"] == 2
    first = v.evidence[0]
    assert (first["node"], first["release"], first["pushed"], first["consumed"]) == (
        "controller", "2026.1", ["1.11"], ["1.10"])  # fmt: skip
    assert "reached no queue of neutron-openvswitch-agent on controller" in v.summary


def test_the_agent_restarting_in_the_step_is_excused_the_other_is_not():
    # at 42 the controller's agent restarts (5.9): its miss is its restart's
    bad, judged = object_pushes.judge(ENTRY, record(
        push(10, "1.10", BOTH_OLD), push(42, "1.10", {"b": "10.250.0.12"}),
        push(43, "1.10", {"a": "10.250.0.11"})))  # fmt: skip
    assert judged == 4
    assert [(b["node"], b["t"]) for b in bad] == [("compute-api", 43)]


def test_a_type_an_agent_never_consumed_is_not_asked_of_it():
    bad, judged = object_pushes.judge(ENTRY, record(
        push(10, "1.10", {"a": "10.250.0.11"}), push(20, "1.10", {"a": "10.250.0.11"}),
        push(20, "1.2", {}, kind="Network")))  # fmt: skip
    assert (bad, judged) == ([], 1)


def test_one_request_s_publishes_a_second_apart_or_more_are_two_pushes():
    bus = (
        push(10, "1.10", {}, request="r")
        + push(10.5, "1.11", {}, request="r")
        + push(12, "1.10", {}, request="r")
    )
    groups = object_pushes.pushes(bus, re.compile(PUSHES.exchange))
    assert [sorted(p["version"] for p in g["publishes"]) for g in groups] == [
        ["1.10", "1.11"], ["1.10"]]  # fmt: skip


def test_the_run_records_the_pushes_only_where_agents_run(tmp_path):
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from harness import scenario
    from harness.run import pins

    from .test_neutron_agents import with_agents

    root = Path(__file__).resolve().parents[2]
    for path, expected in ((root / "scenarios" / "nova-rolling.yaml", False),
                           (with_agents(tmp_path), True)):  # fmt: skip
        run_dir = tmp_path / path.stem
        run_dir.mkdir()
        target = SimpleNamespace(scenario=scenario.load(path), pin_facts=lambda project: {})
        pins.write(target, run_dir)
        written = run_dir / "pins.json"
        recorded = json.loads(written.read_text()) if written.exists() else {}
        assert ("neutron pushes" in recorded) is expected
        if expected:
            assert recorded["neutron pushes"]["nodes"] == NODES
            assert recorded["neutron pushes"]["consumers"] == [AGENT]
