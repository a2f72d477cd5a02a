"""The resources oracle on crafted resources.json documents, and the survival runner on
fake plugins: a problem anywhere fails the run, a clean document passes, none is unknown."""

import copy
from types import SimpleNamespace

import pytest

from harness.checks.oracles import resources
from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN
from harness.run import survival
from harness.services import resources_base

OK = {"problems": [], "duration": 0.1}
CLEAN = {
    "created": {
        "keystone": {"state": {"project_id": "p1"}, "problems": [], "duration": 1.0},
        "nova": {"state": {"server_id": "s1"}, "problems": [], "duration": 5.0},
    },
    "verified": {"before": {"keystone": OK, "nova": OK}, "after": {"keystone": OK, "nova": OK}},
    "destroyed": {"nova": OK, "keystone": OK},
}


def doc(**changes):
    d = copy.deepcopy(CLEAN)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = d
        for key in parents:
            target = target[key]
        target[last] = value
    return d


def test_passes_when_every_plugin_was_created_and_verified_clean():
    v = resources.check(RunRecord(resources=doc()))
    assert v.status == PASS and v.counts == {"resources": 2, "problems": 0}
    assert v.evidence == []


def test_fails_on_a_problem_after_the_roll_and_names_plugin_and_moment():
    lost = {"problems": ["server s1: status changed from 'ACTIVE' to 'ERROR'"], "duration": 1}
    v = resources.check(RunRecord(resources=doc(verified__after__nova=lost)))
    assert v.status == FAIL and v.counts == {"resources": 2, "problems": 1}
    assert v.evidence == [{"plugin": "nova", "when": "after", "problem": lost["problems"][0]}]
    assert "nova (after)" in v.summary


def test_fails_on_a_failed_creation():
    failed = {"state": None, "problems": ["ConflictException: 409"], "duration": 0.2}
    d = doc(created__nova=failed)
    del d["verified"]["before"]["nova"], d["verified"]["after"]["nova"], d["destroyed"]["nova"]
    v = resources.check(RunRecord(resources=d))
    assert v.status == FAIL
    assert v.evidence == [{"plugin": "nova", "when": "create", "problem": "ConflictException: 409"}]


def test_fails_on_a_problem_before_the_roll_and_at_destroy():
    before = {"problems": ["image i1 is gone"], "duration": 0.1}
    stuck = {"problems": ["ResourceTimeout: server s1 not deleted"], "duration": 180}
    v = resources.check(RunRecord(resources=doc(verified__before__keystone=before,
                                                 destroyed__nova=stuck)))  # fmt: skip
    assert v.status == FAIL and v.counts["problems"] == 2
    assert [(e["plugin"], e["when"]) for e in v.evidence] == [("keystone", "before"),
                                                              ("nova", "destroy")]  # fmt: skip


def test_unknown_when_absent_or_never_verified_after_the_roll():
    assert resources.check(RunRecord(resources=None)).status == UNKNOWN
    assert resources.check(RunRecord(resources={"created": {}})).status == UNKNOWN
    d = doc()
    del d["verified"]["after"]
    v = resources.check(RunRecord(resources=d))
    assert v.status == UNKNOWN and "keystone (after)" in v.summary


def test_record_loads_resources_json_from_the_run_folder(tmp_path):
    import json

    (tmp_path / "resources.json").write_text(json.dumps(doc(verified__after__nova={
        "problems": ["flavor f1 is gone"], "duration": 0.1})))  # fmt: skip
    assert resources.check(RunRecord.load(tmp_path)).status == FAIL


# -- the survival runner, on fake plugins (no cloud) ---------------------------------------


def plugin(name, create=None, verify=None):
    calls = []

    def destroy(conn, cloud, state):
        calls.append(("destroy", state))

    return SimpleNamespace(
        NAME=name, calls=calls, destroy=destroy,
        create=create or (lambda conn, cloud: {"id": name}),
        verify=verify or (lambda conn, cloud, state: []),
    )  # fmt: skip


@pytest.fixture
def no_cloud(monkeypatch):
    monkeypatch.setattr(survival.openstack_api, "admin", lambda cloud: "conn")


def boom(*args):
    raise RuntimeError("placement said 503")


def test_a_raising_plugin_is_a_problem_and_the_others_still_run(no_cloud):
    good, bad = plugin("good"), plugin("bad", create=boom)
    created = survival.create_all(None, plugins=(bad, good))
    assert created["bad"]["state"] is None
    assert created["bad"]["problems"] == ["RuntimeError: placement said 503"]
    assert created["good"] == {"state": {"id": "good"}, "problems": [],
                               "duration": created["good"]["duration"]}  # fmt: skip
    # A plugin that was never created is neither verified nor destroyed.
    assert set(survival.verify_all(None, created, "before", plugins=(bad, good))) == {"good"}
    assert set(survival.destroy_all(None, created, plugins=(bad, good))) == {"good"}
    assert bad.calls == [] and good.calls == [("destroy", {"id": "good"})]


def test_verify_problems_and_exceptions_are_recorded_and_judged(no_cloud):
    drift, crash = plugin("drift", verify=lambda c, cl, s: ["x changed"]), plugin("crash")
    crash.verify = boom
    plugins = (drift, crash)
    created = survival.create_all(None, plugins=plugins)
    doc = {"created": created,
           "verified": {w: survival.verify_all(None, created, w, plugins=plugins)
                        for w in ("before", "after")},
           "destroyed": survival.destroy_all(None, created, plugins=plugins)}  # fmt: skip
    assert doc["verified"]["after"]["drift"]["problems"] == ["x changed"]
    assert doc["verified"]["after"]["crash"]["problems"] == ["RuntimeError: placement said 503"]
    v = resources.check(RunRecord(resources=doc))
    assert v.status == FAIL and v.counts == {"resources": 2, "problems": 4}


def test_destroy_runs_in_reverse_order(no_cloud):
    order = []
    plugins = [plugin(n) for n in ("keystone", "glance", "nova")]
    for p in plugins:
        p.destroy = lambda conn, cloud, state, n=p.NAME: order.append(n)
    created = survival.create_all(None, plugins=plugins)
    survival.destroy_all(None, created, plugins=plugins)
    assert order == ["nova", "glance", "keystone"]


# -- what every plugin shares ----------------------------------------------------------------


def test_changes_names_each_drifted_field():
    before = {"status": "ACTIVE", "size": 10, "host": "controller"}
    after = {"status": "ACTIVE", "size": 12}
    assert resources_base.changes("image", before, after) == [
        "image: size changed from 10 to 12",
        "image: host changed from 'controller' to None",
    ]
    assert resources_base.changes("image", before, dict(before)) == []


def test_a_failed_create_destroys_what_it_made_then_raises():
    destroyed = []
    record = lambda conn, cloud, state: destroyed.append(dict(state))  # noqa: E731
    with (
        pytest.raises(RuntimeError),
        resources_base.undo_on_error("conn", "cloud", record, {}) as state,
    ):
        state["project_id"] = "p1"
        raise RuntimeError("user create failed")
    assert destroyed == [{"project_id": "p1"}]


def test_names_carry_the_prefix_and_differ_per_create():
    a, b = resources_base.new_name("server"), resources_base.new_name("server")
    assert a.startswith("uh-res-server-") and a != b
