"""Each oracle fails when it should, on real services: wrong procedures done to a live
2026.1 cloud while the bus is traced and the load runs, then judged like a run. (The
default roll, where they all pass, is test_rolling_upgrade.)

The cases share one cloud and run in file order; each leaves it working for the next.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from harness import faults, hostcheck, job, judge, openstack_api, operations, smoke
from harness.checks import hosts, record
from harness.checks import resources as resources_oracle
from harness.checks.record import RunRecord
from harness.cloud import Cloud
from harness.infra import haproxy
from harness.load import ledger
from harness.load.ledger import Operation
from harness.observe import Watch
from harness.plan import planner, runner, steps
from harness.plan.events import EventLog
from harness.releases import cache
from harness.scenario import load

from .conftest import SCENARIO

FAULT = "F.1"
AFTERMATH = 10.0  # seconds after a fault in which failures are still its doing


def watched(cloud: Cloud, run_dir, description: str, fault, settle_bound: float = 60):
    """Trace + load, a quiet baseline, the fault as step F.1, a quiet tail, then judge."""
    events = EventLog(run_dir / "events.jsonl")
    watch = Watch(cloud, run_dir, events)
    try:
        watch.start()
        time.sleep(3)
        with watch.step(FAULT, description):
            fault(watch)
        time.sleep(3)
    finally:
        watch.finish(settle_bound)
        events.close()
    return {v.oracle: v for v in judge.judge(run_dir).verdicts}


def test_failed_requests_fire_when_the_only_nova_api_behind_the_vip_restarts(cloud, tmp_path):
    def fault(_):
        # A wrong procedure: the second nova-api is out of rotation while the first restarts.
        haproxy.set_state(cloud, "nova-api", "compute-api", "maint")
        try:
            operations.stop(cloud, "controller", "nova-api")
            time.sleep(3)  # an upgrade's install time, with nothing behind the VIP
            operations.start(cloud, "nova", "controller", "nova-api", "2026.1")
        finally:
            haproxy.set_state(cloud, "nova-api", "compute-api", "ready")

    v = watched(cloud, tmp_path, "nova-api on controller: restart, no other nova-api", fault)
    verdict = v["failed_requests"]
    assert verdict.status == "fail", verdict.summary
    # HAProxy has no nova-api to send them to: 503, or cut off (no status) as it stops.
    assert {e["status"] for e in verdict.evidence} <= {503, 502, None}, verdict.evidence[:3]
    assert all(e["request"].startswith(("GET nova", "POST nova", "DELETE nova"))
               for e in verdict.evidence)  # fmt: skip
    # All of them during the fault, or in the seconds after it as clients recover.
    start, end, _ = RunRecord.load(tmp_path).timeline.steps[0]
    assert sum((e["step"] or "").startswith(FAULT) for e in verdict.evidence) >= 3
    assert all(start - AFTERMATH <= e["sent"] <= end + AFTERMATH for e in verdict.evidence)


def test_bus_ledger_fires_when_a_dead_computes_queue_is_removed_with_casts_queued(cloud, tmp_path):
    queue = "compute.compute-api"

    def fault(_):
        # The catalog's fault: SIGKILL the compute, force builds onto it (still "up" to the
        # scheduler for a while) so their casts wait in its queue, delete the queue, start it.
        faults.kill_compute_and_delete_queue(cloud, "compute-api")

    v = watched(cloud, tmp_path, "nova-compute on compute-api: SIGKILL, queue deleted", fault)
    verdict = v["rpc_bus"]
    assert verdict.status == "fail", verdict.summary
    lost = [e for e in verdict.evidence if e["queue"] == queue]
    assert {e["method"] for e in lost} >= {"build_and_run_instance"}, verdict.evidence[:3]
    assert all("deleted" in e["why"] and e["step"].startswith(FAULT) for e in lost)


def test_end_to_end_ledger_fires_when_the_conductor_dies_mid_build(cloud, tmp_path):
    conn = openstack_api.admin(cloud)
    image, flavor = smoke.ensure_image_and_flavor(conn)
    accepted = []

    def create(i):
        server = openstack_api.admin(cloud).compute.create_server(
            name=f"burst-{i}", image_id=image, flavor_id=flavor, networks="none")  # fmt: skip
        return server.id, time.time()

    def fault(watch):
        # A burst of builds; the conductor takes every cast off its queue at once (oslo acks
        # on arrival) and is killed while it works on them: the bus saw them delivered.
        with ThreadPoolExecutor(4) as pool:
            accepted.extend(pool.map(create, range(4)))
        operations.kill(cloud, "controller", "nova-conductor")
        with open(watch.load.ledger, "a") as out:
            for server_id, t in accepted:
                out.write(ledger.dump(Operation("burst", "server-create", server_id, None, t,
                                                None, "pending")) + "\n")  # fmt: skip
        operations.start(cloud, "nova", "controller", "nova-conductor", "2026.1")

    try:
        v = watched(cloud, tmp_path, "nova-conductor on controller: SIGKILL mid-build", fault,
                    settle_bound=30)  # fmt: skip
    finally:
        for server_id, _ in accepted:
            conn.compute.delete_server(server_id, ignore_missing=True)
    verdict = v["rpc_end_to_end"]
    assert verdict.status == "fail", verdict.summary
    lost = [e for e in verdict.evidence if e["client"] == "burst"]
    assert lost and all(e["final"] in ("pending", "ERROR") for e in lost), verdict.evidence
    assert all(any(s.startswith(FAULT) for s in e["steps"]) for e in lost)


def test_resources_fire_when_an_upgrade_loses_the_image_store(cloud, tmp_path):
    resources = job.Resources(tmp_path / record.RESOURCES)
    resources.create(cloud)
    # A wrong procedure: the upgraded glance comes up on a fresh, empty image store (the
    # old files were not carried over). Glance records absolute file locations, so only
    # the data is gone; every image record is still there.
    store = cloud.shared_dir("glance-images")
    moved = store.with_name("glance-images.old")
    store.rename(moved)
    store.mkdir()
    try:
        for node in ("controller", "compute-api"):
            operations.restart(cloud, "glance", node, "glance-api", "2026.1")
        resources.verify_and_destroy(cloud)
    finally:
        store.rmdir()
        moved.rename(store)
    verdict = resources_oracle.check(RunRecord.load(tmp_path))
    assert verdict.status == "fail", verdict.summary
    assert {(e["plugin"], e["when"]) for e in verdict.evidence} == {("glance", "after")}, (
        verdict.evidence
    )


def test_monotonic_version_fires_with_old_and_new_nova_api_both_in_rotation(cloud, tmp_path):
    target = "2026.2"
    ctx = runner.Context(cloud, cache.default_cache_dir(), EventLog(tmp_path / "steps.jsonl"))
    # The right first half of nova's procedure (expand with the new code; Install builds
    # the target's venv)...
    for step in (steps.Install("nova", "compute-api", target),
                 steps.Manage("nova", "api-db-sync", target),
                 steps.Manage("nova", "db-sync", target)):  # fmt: skip
        step.run(ctx)

    def fault(watch):
        # ...then the wrong one: the upgraded API goes back into rotation beside the old.
        operations.restart(cloud, "nova", "compute-api", "nova-api", target)
        watch.note_releases()
        time.sleep(10)

    v = watched(cloud, tmp_path, "nova-api on compute-api: 2026.2 beside 2026.1", fault)
    verdict = v["monotonic_version"]
    assert verdict.status == "fail", verdict.summary
    pair = verdict.evidence[0]
    earlier, later = pair["earlier"], pair["later"]
    assert (earlier["max_version"], earlier["backend"]) == ("2.104", "compute-api"), pair
    assert (later["max_version"], later["backend"]) == ("2.103", "controller"), pair
    assert later["backend_release"] == "2026.1", pair
    assert pair["step"].startswith(FAULT)


def test_hosts_fire_when_the_roll_left_processes_on_the_old_release(cloud, tmp_path):
    # After the case above only nova-api on compute-api runs 2026.2: a roll stopped halfway.
    plan = planner.build(load(SCENARIO), 1)
    (tmp_path / record.HOSTS).write_text(json.dumps(hostcheck.check_hosts(cloud, plan)))
    verdict = hosts.check(RunRecord.load(tmp_path))
    assert verdict.status == "fail", verdict.summary
    wrong = {(e["node"], e["check"]) for e in verdict.evidence}
    assert ("controller", "release nova-conductor") in wrong
    assert ("compute-api", "release nova-api") not in wrong  # the one that was upgraded
    assert ("controller", "config nova [upgrade_levels] compute") in wrong  # never pinned
