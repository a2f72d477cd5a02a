"""The selftest catalog (scenarios/negative/): every case validates, names oracles that
exist, and plans the wrong procedure it says — compared with the default plan."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from harness import cli
from harness.checks import judge
from harness.errors import UserError
from harness.plan import expect, planner, wrong
from harness.plan import steps as st
from harness.run import selftest
from harness.scenario import Expectation, load, parse

ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "scenarios" / "negative"
DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"
CASES = selftest.catalog(CATALOG)
ORACLES = {o.NAME for o in judge.ORACLES}


def plan_of(path: Path) -> planner.Plan:
    return planner.build(load(path), 7)


def steps_of(plan: planner.Plan) -> list[tuple[str, st.Step]]:
    return [(phase.name, step) for _, phase, step in plan.numbered()]


def case(number: int) -> Path:
    return next(p for name, p in CASES.items() if name.startswith(f"{number}-"))


def test_the_catalog_has_the_issues_cases():
    # 1-8: the procedure issue's; 9: a schema step skipped, 10: no drain under the light
    # load, 11: an old API left serving (the oracles issue's), 12: a cap reset skipped, 13: a
    # cinder-api restarted without a drain, 14: cinder-volume killed with creates in hand,
    # 15: a pin above a live compute (the cinder and pins issue's), 16: neutron's agents
    # before its servers, 17: the DHCP agent's queue deleted with casts in it (the agents')
    assert [name.split("-", 1)[0] for name in CASES] == [str(i) for i in range(1, 18)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_case_validates_and_names_oracles_that_exist(name):
    s = load(CASES[name])
    assert s.selftest is not None, f"{name} has no selftest section"
    assert set(s.selftest.expect) <= ORACLES
    assert {oracle for oracle, _ in s.selftest.evidence} <= set(s.selftest.expect)
    assert len(plan_of(CASES[name])) > 0
    assert wrong.describe(s.plan), f"{name} plans nothing wrong"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_case_keeps_the_default_known_findings(name):
    # Else the conductor race the default roll can hit would count as a catch.
    assert load(CASES[name]).known_findings == load(DEFAULT).known_findings


def test_the_default_scenario_plans_nothing_wrong():
    s = load(DEFAULT)
    assert s.selftest is None and wrong.describe(s.plan) == ""
    assert "deliberately wrong" not in planner.render(plan_of(DEFAULT))
    assert not any(isinstance(step, st.Fault) for _, step in steps_of(plan_of(DEFAULT)))


def test_the_failover_scenario_is_the_default_roll_with_both_failovers():
    """Faults a correct cloud survives at the cost the scenario states: one after
    placement, one after cinder; nothing else differs from the default plan."""
    failovers = DEFAULT.parent / "vip-failovers.yaml"
    steps = steps_of(plan_of(failovers))
    faults = [(phase, f.action, f.budget) for phase, f in steps if isinstance(f, st.Fault)]
    assert faults == [("placement", "stop-vip-haproxy", (5.0, 25)),
                      ("cinder", "kill-vip-keepalived", (5.0, 25))]  # fmt: skip
    others = [step for _, step in steps if not isinstance(step, st.Fault)]
    assert others == [step for _, step in steps_of(plan_of(DEFAULT))]


def test_a_case_rolling_some_projects_keeps_only_the_failovers_after_them(tmp_path):
    """A failover after a project's phase the case does not roll has nothing to come
    after, and is dropped (the plan's header says which failovers it does)."""
    case_ = tmp_path / "failovers.yaml"
    case_.write_text(f"extends: {DEFAULT}\nplan:\n  projects: [placement, nova]\n  faults:\n"
                     "    - {action: stop-vip-haproxy, after: {phase: placement}}\n"
                     "    - {action: kill-vip-keepalived, after: {phase: cinder}}\n")  # fmt: skip
    faults = [(phase, f.action, f.budget) for phase, f in steps_of(plan_of(case_))
              if isinstance(f, st.Fault)]  # fmt: skip
    assert faults == [("placement", "stop-vip-haproxy", (5.0, 25))]
    assert "VIP failovers: stop-vip-haproxy;" in planner.render(plan_of(case_))


def test_case_1_restarts_every_api_without_a_drain():
    default = steps_of(plan_of(DEFAULT))
    wrong_ = steps_of(plan_of(case(1)))
    assert any(isinstance(s, st.Drain) for _, s in default)
    assert not any(isinstance(s, (st.Drain, st.Admit)) for _, s in wrong_)
    api_restarts = [
        s for _, s in wrong_ if isinstance(s, st.Restart) and s.process.endswith("-api")
    ]
    assert len(api_restarts) == 12  # six APIs on two nodes, all still restarted


def test_case_2_puts_the_first_nova_api_back_before_the_second_is_upgraded():
    steps = [s for phase, s in steps_of(plan_of(case(2))) if phase == "nova"]
    restarts = [i for i, s in enumerate(steps)
                if isinstance(s, st.Restart) and s.process == "nova-api"]  # fmt: skip
    between = steps[restarts[0] + 1 : restarts[1]]
    admit = next(i for i, s in enumerate(between) if isinstance(s, st.Admit))
    assert (between[admit].ready, between[admit].drain) == (("controller",), ())
    # Old and new both serve for a while: the hold comes before the old one is drained.
    hold = between[admit + 1]
    assert isinstance(hold, st.Fault) and (hold.action, hold.seconds) == ("hold", 20)
    assert isinstance(between[admit + 2], st.Drain) and between[admit + 2].host == "compute-api"


def pins(plan: planner.Plan) -> dict:
    return {k: v for k, v in expect.planned_options(plan).items() if k[2] == "upgrade_levels"}


def test_case_3_never_pins_compute_rpc_and_the_host_checks_still_expect_the_pin():
    s = load(case(3))
    assert pins(plan_of(DEFAULT)) and not pins(planner.build(s, 7))
    corrected = planner.build(wrong.corrected(s), 7)
    assert pins(corrected) == pins(plan_of(DEFAULT))


@pytest.mark.parametrize("number, action", [(4, "kill-compute-and-delete-queue"),
                                             (5, "kill-conductor-during-builds")])  # fmt: skip
def test_cases_4_and_5_are_a_fault_under_load_with_nothing_rolled(number, action):
    plan = plan_of(case(number))
    assert [p.name for p in plan.phases] == ["install"]
    assert [s.action for _, s in steps_of(plan) if isinstance(s, st.Fault)] == [action]


def test_case_6_leaves_one_keystone_behind_the_vip_before_it_is_drained():
    steps = [s for _, s in steps_of(plan_of(case(6)))]
    fault = next(i for i, s in enumerate(steps) if isinstance(s, st.Fault))
    drain = next(i for i, s in enumerate(steps) if isinstance(s, st.Drain))
    assert fault < drain and steps[drain].service == "keystone"
    assert (steps[fault].action, steps[fault].host, steps[fault].target) == (
        "single-api", "controller", "keystone")  # fmt: skip


def test_case_7_restarts_rabbitmq_right_after_the_scheduler_restart():
    steps = [s for _, s in steps_of(plan_of(case(7)))]
    i = next(i for i, s in enumerate(steps) if isinstance(s, st.Fault))
    assert steps[i].action == "restart-rabbitmq"
    assert isinstance(steps[i - 1], st.Restart) and steps[i - 1].process == "nova-scheduler"


def compute_steps(plan: planner.Plan, node: str) -> list[st.Step]:
    def of_compute(s: st.Step) -> bool:
        return getattr(s, "process", None) == "nova-compute" or isinstance(
            s, (st.Disable, st.Enable)
        )

    return [s for _, s in steps_of(plan) if s.node == node and of_compute(s)]


def test_case_8_never_restarts_nova_compute_on_compute_api():
    assert compute_steps(plan_of(DEFAULT), "compute-api")
    assert compute_steps(plan_of(case(8)), "compute-api") == []
    assert compute_steps(plan_of(case(8)), "controller") == compute_steps(
        plan_of(DEFAULT), "controller")  # fmt: skip


# -- bad input ---------------------------------------------------------------------------------


def scenario_with(**changes) -> dict:
    data = yaml.safe_load(DEFAULT.read_text())
    for key, value in changes.items():
        data[key] = value
    return data


def test_a_fault_after_no_step_is_one_sentence():
    data = scenario_with(plan={"faults": [{"action": "restart-rabbitmq",
                                           "after": {"phase": "swift"}}]})  # fmt: skip
    with pytest.raises(UserError, match="matches no step of the plan"):
        planner.build(parse(data, Path("x.yaml")), 1)


def test_a_hold_needs_its_seconds():
    data = scenario_with(plan={"faults": [{"action": "hold", "after": {"phase": "nova"}}]})
    with pytest.raises(UserError, match="`seconds` is for a hold fault"):
        planner.build(parse(data, Path("x.yaml")), 1)


def test_leaving_a_process_old_on_a_node_that_does_not_exist_is_one_sentence():
    data = scenario_with(plan={"leave_old": [{"node": "nope", "process": "nova-compute"}]})
    with pytest.raises(UserError, match="node 'nope'"):
        planner.build(parse(data, Path("x.yaml")), 1)


def test_a_signature_for_an_oracle_the_case_does_not_expect_is_refused():
    data = scenario_with(selftest={"expect": ["hosts"], "why": "x",
                                   "evidence": {"rpc_bus": {"queue": "x"}}})  # fmt: skip
    with pytest.raises(UserError, match="does not expect"):
        parse(data, Path("x.yaml"))


def test_an_unknown_case_exits_2_with_one_sentence(capsys):
    assert cli.main(["selftest", "--catalog", str(CATALOG), "--cases", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("harness: No selftest case '99'") and "\n" not in err


def test_cases_are_chosen_by_name_or_number():
    chosen = selftest.choose(CASES, "4, 6-single-keystone")
    assert list(chosen) == ["4-compute-queue-deleted", "6-single-keystone"]


# -- the verdict ---------------------------------------------------------------------------------


def results(tmp_path: Path, failed: list[str], unjudged: tuple[str, ...] = ()) -> Path:
    oracles = {o: {"verdict": "fail" if o in failed or o in unjudged else "pass",
                   "judged": o not in unjudged} for o in ORACLES}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps({"oracles": oracles}))
    return tmp_path


@pytest.mark.parametrize("failed, verdict", [
    (["failed_requests", "hosts"], selftest.CAUGHT),
    (["hosts"], selftest.WRONG),
    ([], selftest.MISSED),
])  # fmt: skip
def test_a_case_is_caught_only_by_an_expected_oracle(tmp_path, failed, verdict):
    s = replace(load(DEFAULT), selftest=Expectation(("failed_requests",), "why"))
    out = selftest.judge_case("x", s, results(tmp_path, failed), 1.0)
    assert out.verdict == verdict
    assert set(out.fired) == set(failed)


def test_an_oracle_that_could_not_judge_is_no_catch(tmp_path):
    s = replace(load(DEFAULT), selftest=Expectation(("rpc_bus",), "why"))
    out = selftest.judge_case("x", s, results(tmp_path, [], unjudged=("rpc_bus",)), 1.0)
    assert (out.verdict, out.unknown) == (selftest.MISSED, ["rpc_bus"])


def test_a_run_that_left_no_results_has_no_verdict(tmp_path):
    s = replace(load(DEFAULT), selftest=Expectation(("rpc_bus",), "why"))
    assert selftest.judge_case("x", s, tmp_path, 1.0).verdict == selftest.NO_VERDICT


def test_the_table_and_its_markdown_name_each_case_and_its_verdict():
    outcomes = [selftest.Outcome("4-x", ["rpc_bus"], ["rpc_bus", "hosts"], [], selftest.CAUGHT,
                                 320.4, "reports/x/4-x"),
                selftest.Outcome("7-y", ["rpc_bus"], [], ["rpc_bus"], selftest.MISSED, 9.0,
                                 "reports/x/7-y", "step 1.3 failed")]  # fmt: skip
    md = selftest.markdown(outcomes).splitlines()
    assert md[2] == "| 4-x | rpc_bus | rpc_bus, hosts | caught | 320 s |"
    assert md[3] == "| 7-y | rpc_bus | rpc_bus? | missed | 9 s |"
    text = selftest.table(outcomes)
    assert "reports/x/7-y" in text and "7-y: step 1.3 failed" in text


def test_case_11_admits_the_old_nova_api_and_then_reads_across_both():
    steps = [s for phase, s in steps_of(plan_of(case(11))) if phase == "nova"]
    restarted = {(s.host, s.process) for s in steps if isinstance(s, st.Restart)}
    assert ("controller", "nova-api") in restarted
    assert ("compute-api", "nova-api") not in restarted
    i = next(i for i, s in enumerate(steps) if isinstance(s, st.Fault))
    assert steps[i].action == "servers-across-apis"
    assert isinstance(steps[i - 1], st.Admit) and steps[i - 1].ready == ("compute-api",)


def test_case_12_rolls_the_pair_where_the_cap_rises_and_never_resets_it():
    s = load(case(12))
    assert (s.release_from, s.release_to) == ("2025.2", "2026.1")
    why = "drop its cached RPC version cap"
    assert any(getattr(st_, "why", "") == why for _, st_ in steps_of(plan_of(DEFAULT)))
    assert not any(getattr(st_, "why", "") == why for _, st_ in steps_of(plan_of(case(12))))
    assert not any(isinstance(st_, st.Signal) for _, st_ in steps_of(plan_of(case(12))))


@pytest.mark.parametrize("action", ["force-down-live-compute", "kill-compute-and-delete-queue"])
def test_a_fault_on_a_node_without_its_node_is_one_sentence(action):
    data = scenario_with(plan={"faults": [{"action": action, "after": {"phase": "install"}}]})
    with pytest.raises(UserError, match=f"fault {action} needs the node it acts on"):
        planner.build(parse(data, Path("x.yaml")), 1)
