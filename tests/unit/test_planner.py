"""The planner: pure, seeded, and the upstream order."""

from pathlib import Path

import pytest
import yaml

from harness import cli, scenario
from harness.plan import planner
from harness.plan import steps as st
from harness.releases import catalog
from harness.services import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"
GOLDEN = Path(__file__).parent / "golden" / "nova-rolling.seed42.plan.txt"


def plan_of(tmp_path=None, seed=42, **plan_options):
    data = yaml.safe_load(DEFAULT.read_text())
    data.setdefault("plan", {}).update(plan_options)
    return planner.build(scenario.parse(data, DEFAULT), seed)


def ids(plan, predicate):
    return [i for i, _, step in plan.numbered() if predicate(step)]


def first(plan, predicate):
    return plan_index(plan)[ids(plan, predicate)[0]]


def plan_index(plan):
    return {step_id: n for n, (step_id, _, _) in enumerate(plan.numbered())}


def test_default_plan_matches_the_golden_file():
    # To accept a deliberate change: harness plan scenarios/nova-rolling.yaml --seed 42 > GOLDEN
    assert planner.render(plan_of()) == GOLDEN.read_text()


def test_phases_follow_the_upstream_order():
    assert [p.name for p in plan_of().phases] == [
        "install", "keystone", "glance", "placement", "neutron", "cinder", "nova",
    ]  # fmt: skip


def test_cinder_follows_its_upgrade_guide():
    plan = plan_of()
    cinder = [
        s for _, ph, s in plan.numbered() if ph.name == "cinder" and not isinstance(s, st.Fault)
    ]  # not a VIP failover
    said = [
        f"{s.action}@{s.series}" if isinstance(s, st.Manage)
        else f"{type(s).__name__.lower()} {s.process}@{s.host}" if isinstance(s, st.Restart)
        else type(s).__name__.lower()
        for s in cinder
    ]  # fmt: skip
    assert said == [
        # N's online migrations finished with N's code, before N+1's sync
        "online-migrations@2026.1", "db-sync@2026.2",
        "restart cinder-scheduler@controller", "restart cinder-volume@controller",
        "restart cinder-backup@controller",
        "drain", "restart cinder-api@controller", "admit", "restart cinder-api@compute-api",
        "admit",
        # the caps each daemon cached while an older peer (or its own old row) was listed
        "restart cinder-scheduler@controller", "restart cinder-volume@controller",
        "restart cinder-backup@controller",
        "online-migrations@2026.2", "upgrade-check@2026.2",
    ]  # fmt: skip


def test_nova_order_db_then_pin_then_conductor_scheduler_computes_apis_then_sighup():
    plan = plan_of()
    idx = plan_index(plan)
    nova = [(idx[i], s) for i, ph, s in plan.numbered() if ph.name == "nova"]

    def at(pred):
        return [n for n, s in nova if pred(s)]

    syncs = at(lambda s: isinstance(s, st.Manage) and s.action.endswith("sync"))
    pins = at(lambda s: isinstance(s, st.SetOption))
    restarts = [(n, s.process) for n, s in nova if isinstance(s, st.Restart)]
    hups = at(lambda s: isinstance(s, st.Signal))
    order = [p for _, p in restarts]
    assert order == ["nova-conductor", "nova-scheduler", "nova-compute", "nova-compute",
                     "nova-api", "nova-api",
                     "nova-conductor", "nova-scheduler", "nova-compute"]  # fmt: skip
    assert max(syncs) < min(pins) and max(pins) < restarts[0][0]
    assert hups == []  # the default drops cached caps by restarting
    # Only the compute rolled first cached an older cap; the last one rolled did not.
    assert [s.host for n, s in nova if n == restarts[8][0]] == ["controller"]
    assert [s.action for _, s in nova[-2:]] == ["online-migrations", "upgrade-check"]
    assert all(s.value == "auto" and s.section == "upgrade_levels" for n, s in nova if n in pins)


def rotation_history(plan, service):
    """Replay the plan's HAProxy steps for one API: which nodes serve, with which release."""
    api_nodes = [n.name for n in plan.scenario.with_role("api")]
    serving = set(api_nodes)
    release = dict.fromkeys(api_nodes, plan.scenario.release_from)
    history = []
    for _, _, step in plan.numbered():
        if step.service != service:
            continue
        if isinstance(step, st.Drain):
            serving.discard(step.host)
        elif isinstance(step, st.Admit):
            serving |= set(step.ready)
            serving -= set(step.drain)
        elif isinstance(step, st.Restart) and step.process == BY_NAME[service].api.name:
            assert step.host not in serving, f"{step.host} restarted while in rotation"
            release[step.host] = step.series
        history.append(({release[n] for n in serving}, set(serving)))
    return history


@pytest.mark.parametrize("service", ["keystone", "glance", "placement", "neutron", "nova"])
def test_one_api_node_out_at_a_time_and_handover_never_mixes_releases(service):
    history = rotation_history(plan_of(), service)
    assert all(serving for _, serving in history), "the VIP was left without a backend"
    assert all(len(releases) == 1 for releases, _ in history), "old and new served together"
    assert history[-1] == ({"2026.2"}, {"controller", "compute-api"})


def test_overlap_option_lets_old_and_new_serve_together_and_the_plan_says_so():
    plan = plan_of(api_handover=False)
    history = rotation_history(plan, "nova")
    assert all(serving for _, serving in history)
    assert any(len(releases) == 2 for releases, _ in history)
    assert "(handover)" not in planner.render(plan)
    assert "api_handover=false" in planner.render(plan)


def test_node_order_option_changes_the_plan():
    def api_restarts(plan):
        return [
            s.host
            for _, _, s in plan.numbered()
            if isinstance(s, st.Restart) and s.process == "nova-api"
        ]

    assert api_restarts(plan_of()) == ["controller", "compute-api"]
    assert api_restarts(plan_of(node_order="reversed")) == ["compute-api", "controller"]


def test_a_skipped_contract_is_the_only_step_gone_and_the_plan_says_so():
    right, wrong = plan_of(), plan_of(skip_actions=["keystone/contract", "glance/contract"])
    gone = [s for _, _, s in right.numbered() if s not in [w for _, _, w in wrong.numbered()]]
    assert [(s.service, s.action) for s in gone] == [("keystone", "contract"),
                                                     ("glance", "contract")]  # fmt: skip
    assert "skip=keystone/contract skip=glance/contract" in planner.render(wrong)


def test_random_order_comes_from_the_seed():
    def text(seed):
        return planner.render(plan_of(seed=seed, node_order="random")).split("\n", 4)[4]

    assert text(5) == text(5)
    assert len({text(seed) for seed in range(12)}) > 1


@pytest.mark.parametrize(
    "old,new", list(zip(list(catalog.CATALOG), list(catalog.CATALOG)[1:], strict=False))
)
def test_every_consecutive_catalog_pair_plans_by_changing_only_the_release_names(old, new):
    data = yaml.safe_load(DEFAULT.read_text())
    data["releases"] = {"from": old, "to": new}
    plan = planner.build(scenario.parse(data, DEFAULT), 1)
    targets = {getattr(s, "series", new) for _, _, s in plan.numbered()}
    assert targets == {old, new}
    # the base release's code runs one step: cinder's own online migrations, before the sync
    on_old = [(s.service, s.action) for _, _, s in plan.numbered()
              if getattr(s, "series", new) == old]  # fmt: skip
    assert on_old == [("cinder", "online-migrations")]


@pytest.mark.parametrize(
    "options,message",
    [({"node_order": "sideways"}, "'sideways' is not one of"),
     ({"api_handover": "yes"}, "'yes' is not of type 'boolean'"),
     ({"drain_first": True}, "unknown key 'drain_first' in plan"),
     ({"skip_actions": ["nova/contract"]}, "names nova/contract, which no service has")],
)  # fmt: skip
def test_a_bad_plan_option_exits_2_with_one_sentence(tmp_path, capsys, options, message):
    data = yaml.safe_load(DEFAULT.read_text())
    data["plan"] = options
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert cli.main(["plan", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_plan_command_prints_the_tree_and_changes_nothing(tmp_path, capsys):
    state = tmp_path / "state"
    assert cli.main(["--state-dir", str(state), "plan", str(DEFAULT), "--seed", "42"]) == 0
    assert capsys.readouterr().out == GOLDEN.read_text()
    assert not state.exists()


def test_cap_reset_sighup_follows_the_guide_literally():
    plan = plan_of(cap_reset="sighup")
    hups = [(s.host, s.process) for _, _, s in plan.numbered() if isinstance(s, st.Signal)]
    assert hups == [("controller", "cinder-scheduler"), ("controller", "cinder-volume"),
                    ("controller", "cinder-backup"),
                    ("controller", "nova-conductor"), ("controller", "nova-scheduler"),
                    ("controller", "nova-compute")]  # fmt: skip
    computes = [
        s
        for _, _, s in plan.numbered()
        if isinstance(s, st.Restart) and s.process == "nova-compute"
    ]
    assert len(computes) == 2


def test_every_compute_restart_happens_disabled_and_is_enabled_after():
    steps = [step for _, _, step in plan_of().numbered()]
    restarts = [i for i, s in enumerate(steps)
                if isinstance(s, st.Restart) and s.process == "nova-compute"]  # fmt: skip
    assert len(restarts) == 3  # two rolled, one restarted again to drop its cached cap
    for i in restarts:
        before, after = steps[i - 1], steps[i + 1]
        assert isinstance(before, st.Disable) and before.host == steps[i].host
        assert isinstance(after, st.Enable) and after.host == steps[i].host


def test_disable_computes_false_restarts_them_in_scheduling():
    steps = [step for _, _, step in plan_of(disable_computes=False).numbered()]
    assert not [s for s in steps if isinstance(s, (st.Disable, st.Enable))]
    assert sum(isinstance(s, st.Restart) and s.process == "nova-compute" for s in steps) == 3
