"""Oracle 7, procedure: the plan ran to its end, every step succeeded."""

from harness.checks.oracles import procedure
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN


def events(outcomes: list[str | None], planned: int | None = None) -> list[dict]:
    """A plan of `planned` steps (default: as many as outcomes); each outcome "ok",
    "failed" or None (started, never ended)."""
    out = [{"t": 0, "event": "plan", "steps": planned or len(outcomes), "seed": 1}]
    for i, status in enumerate(outcomes, 1):
        out.append({"t": i, "event": "step-start", "id": f"6.{i}", "kind": "manage",
                    "service": "nova", "node": "controller",
                    "description": f"nova: step {i}"})  # fmt: skip
        if status:
            out.append({"t": i + 0.5, "event": "step-end", "id": f"6.{i}", "status": status,
                        "error": "exit 255: Error: NoSuchOptError" if status == "failed"
                        else None})  # fmt: skip
    return out


def test_every_planned_step_succeeding_passes():
    v = procedure.check(RunRecord(events=events(["ok", "ok", "ok"])))
    assert v.status == PASS and v.counts == {"planned": 3, "ran": 3, "out_of_order": 0, "failed": 0}


def test_a_failed_step_and_the_steps_it_left_unrun_fail_with_evidence():
    v = procedure.check(RunRecord(events=events(["ok", "failed"], planned=5)))
    assert v.status == FAIL and v.counts == {"planned": 5, "ran": 2, "out_of_order": 0, "failed": 1}
    failed, unrun = v.evidence
    assert (failed["step"], failed["status"]) == ("6.2 nova: step 2", "failed")
    assert failed["error"].startswith("exit 255")
    assert (unrun["step"], unrun["status"]) == ("3 of 5 steps", "never ran")
    assert "6.2 nova: step 2 (failed): exit 255" in v.summary


def test_a_step_that_never_ended_fails():
    v = procedure.check(RunRecord(events=events(["ok", None])))
    assert v.status == FAIL and v.evidence[0]["status"] == "never ended"


def test_a_roll_that_never_began_is_unknown():
    assert procedure.check(RunRecord(events=[])).status == UNKNOWN


RULES = {"neutron-openvswitch-agent": ["neutron-rpc-server", "neutron-api"]}


def rolled(agent_first: bool) -> RunRecord:
    """neutron's servers and the agent of compute-api rolled to 2026.2 in two steps, the
    agent in the first (wrong) or the second (neutron's order)."""
    old = {
        "controller": {"neutron-rpc-server": "2026.1", "neutron-api": "2026.1"},
        "compute-api": {"neutron-api": "2026.1", "neutron-openvswitch-agent": "2026.1"},
    }
    first, second = (
        ("compute-api", "neutron-openvswitch-agent"),
        ("controller", "neutron-rpc-server"),
    )
    if not agent_first:
        first, second = second, first
    mid = {node: dict(p) for node, p in old.items()}
    mid[first[0]][first[1]] = "2026.2"
    new = {node: dict.fromkeys(p, "2026.2") for node, p in old.items()}
    evts = events(["ok", "ok"])
    evts[0].update(target="2026.2", order=RULES)
    evts += [{"t": 0.1, "event": "releases", "releases": old},
             {"t": 1.6, "event": "releases", "releases": mid},
             {"t": 2.6, "event": "releases", "releases": new}]  # fmt: skip
    evts.sort(key=lambda e: e["t"])
    return RunRecord(timeline=Timeline.from_events(evts), events=evts)


def test_an_agent_on_the_new_release_before_its_servers_is_out_of_order():
    v = procedure.check(rolled(agent_first=True))
    assert v.status == FAIL and v.counts["out_of_order"] == 3 and v.counts["failed"] == 0
    e = v.evidence[0]
    assert (e["step"], e["node"], e["status"]) == (
        "6.1 nova: step 1",
        "compute-api",
        "out of order",
    )
    assert (
        "neutron-openvswitch-agent on compute-api ran 2026.2 while neutron-rpc-server" in e["error"]
    )


def test_the_agents_after_their_servers_are_in_order():
    assert procedure.check(rolled(agent_first=False)).status == PASS
