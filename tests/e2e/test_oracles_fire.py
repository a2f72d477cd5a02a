"""Each oracle fails when it should, on real services: wrong procedures done to a live
2026.1 cloud while the bus is traced and the load runs, then judged like a run. (The
default roll, where they all pass, is test_rolling_upgrade.)

The cases share one cloud and run in file order; each leaves it working for the next.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pika

from harness.backends import hostcheck, openstack_api
from harness.backends.embedded import collect, faults, operations
from harness.backends.embedded import schema as schema_dump
from harness.backends.embedded.backend import Embedded
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy, mariadb
from harness.checks import judge, record
from harness.checks.oracles import disruption, hosts, latency, service_logs
from harness.checks.oracles import resources as resources_oracle
from harness.checks.oracles import schema as schema_oracle
from harness.checks.oracles import tempest as tempest_oracle
from harness.checks.record import RunRecord
from harness.load import ledger
from harness.load.ledger import Operation
from harness.plan import planner, steps
from harness.plan.events import EventLog
from harness.releases import cache
from harness.run import job
from harness.run.observe import Watch
from harness.scenario import load
from harness.services.nova import smoke
from harness.tempest import config as tempest_config
from harness.tempest import install as tempest_install
from harness.tempest import ledger as tempest_ledger
from harness.tempest.control import Tempest, TempestOptions, local

from .conftest import SCENARIO

FAULT = "F.1"
AFTERMATH = 10.0  # seconds after a fault in which failures are still its doing


def watched(cloud: Cloud, run_dir, description: str, fault, settle_bound: float = 60,
            baseline: float = 3):  # fmt: skip
    """Trace + load, a quiet baseline, the fault as step F.1, a quiet tail, then judge."""
    events = EventLog(run_dir / "events.jsonl")
    watch = Watch(cloud, run_dir, events)
    try:
        watch.start()
        time.sleep(baseline)
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


def test_latency_fires_when_a_nova_api_freezes_without_a_drain(cloud, tmp_path):
    """No request fails (HAProxy waits for the frozen backend), yet clients wait seconds:
    the latency oracle catches what failed_requests cannot."""

    def fault(_):
        # A process stalled (SIGSTOP) 15 s, never drained: HAProxy's checks (10 s timeout, fall
        # 2) do not take it out before the clients that reached it have waited seconds. Far
        # beyond the budget of any baseline p99 under 5 s (3x, or +2.5 s), so a noisy
        # baseline cannot hide it (a volume attach holds nova-api's one worker for about
        # 3 s, and the requests queued behind it wait as long: a baseline p99 of 3.3 s
        # measured, whose budget a 10 s freeze did not exceed); then 5 s thawed, for the
        # phase's requests to reach 20.
        faults.freeze(cloud, "controller", "nova-api", 15.0)
        time.sleep(5)

    watched(cloud, tmp_path, "nova-api on controller: frozen 15 s, not drained", fault,
            baseline=20)  # fmt: skip
    # 15 s of baseline after the load's warm-up; the 20 s fault sees some 50 nova requests:
    # judge their p99 (the default asks 100, for a phase of a roll)
    record_ = RunRecord.load(tmp_path)
    record_.latency = latency.LatencyBudget(p99_min_requests=20)
    verdict = latency.check(record_)
    assert verdict.status == "fail", verdict.summary
    slow = [e for e in verdict.evidence if (e["api"], e["phase"]) == ("nova-api", "F")]
    assert slow and slow[0]["metric"] in ("p50", "p99"), verdict.evidence
    worst = max(slow, key=lambda e: e["slowest"]["ms"])["slowest"]
    assert worst["ms"] >= 2000 and worst["backend"] == "controller", worst
    assert worst["step"].startswith(FAULT)


def test_disruption_excuses_a_drained_restart_and_fires_on_refusals_no_client_saw(cloud, tmp_path):
    """compute-api's nova-api restarted as the plan does it (drained first, readied after):
    its refusals are excused. Then controller's nova-api port refuses for 0.5 s, three
    times, and compute-api's nova-api is stopped (SIGSTOP) for 0.5 s, twice, with no drain:
    HAProxy's retries and waits may spare every client, the probes do not."""

    def fault(_):
        operations.drain(cloud, "nova-api", "compute-api")
        operations.restart(cloud, "nova", "compute-api", "nova-api", "2026.1")
        operations.admit(cloud, "nova-api", ("compute-api",), ())
        time.sleep(2)
        for _ in range(3):
            faults.refuse_port(cloud, "controller", 8774, 0.5)
            time.sleep(2)
        for _ in range(2):
            faults.freeze(cloud, "compute-api", "nova-api", 0.5)
            time.sleep(2)

    watched(cloud, tmp_path, "nova-api: a drained restart, 3 refusals, 2 freezes", fault)
    collect.collect_logs(cloud, tmp_path / record.LOGS)  # HAProxy's log, for its view
    verdict = disruption.check(RunRecord.load(tmp_path))
    assert verdict.status == "fail", verdict.summary
    by_backend = {b: [e for e in verdict.evidence if e["backend"] == b]
                  for b in ("nova-api@controller", "nova-api@compute-api")}  # fmt: skip
    assert sum(map(len, by_backend.values())) == len(verdict.evidence), verdict.evidence
    refusals, freezes = by_backend.values()
    assert len(refusals) == 3 and len(freezes) == 2, verdict.evidence
    for e in refusals:
        assert "connect refused" in e["kinds"] and e["seconds"] < 2.0, e  # 2 s apart
    for e in freezes:  # the kernel still accepted its connections: only the alive probe saw it
        assert e["kinds"] == ["alive timeout"] and 0.2 <= e["seconds"] < 1.5, e
    for e in verdict.evidence:
        assert e["step"].startswith(FAULT) and e["release"] == "2026.1", e
    # the drained restart refused too (probes, maybe HAProxy's check): excused, no outage of
    # compute-api above; how many probes its few down seconds meet depends on the machine
    # 12 backends, and the VIP itself (haproxy@vip), which no fault here touched
    assert verdict.counts["excused"] >= 1 and verdict.counts["backends"] == 13, verdict.counts


IMAGES = "tempest.api.image.v2.test_images.BasicOperationsImagesTest"
FLAVORS = "tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_list_flavors"


def test_tempest_fires_on_tests_that_passed_before_and_fail_while_glance_is_gone(cloud, tmp_path):
    """Tempest's baseline passes; with every glance-api stopped (no drain, nothing behind
    the VIP), the image tests fail and the flavor test still passes; with glance back, the
    run after passes. Only the image tests are evidence, attributed to the fault step."""
    venv, _ = tempest_install.ensure(cache.default_cache_dir())
    image, flavor = smoke.ensure_image_and_flavor(openstack_api.admin(cloud))
    conf = tempest_config.write(cloud, image, flavor, tmp_path / "tempest" / "tempest.log")
    options = TempestOptions(regex=rf"^({IMAGES}|{FLAVORS})\b")
    runner = Tempest(local(venv, conf), cloud.state_dir / "tempest" / "work", tmp_path, options)
    events = EventLog(tmp_path / "events.jsonl")
    nodes = [n.name for n in cloud.scenario.serving("glance-api")]
    try:
        baseline = runner.run(tempest_ledger.BASELINE)
        events.write("step-start", id=FAULT, description="glance-api stopped on every node")
        for node in nodes:
            operations.stop(cloud, node, "glance-api")
        try:
            runner.run(tempest_ledger.DURING)
        finally:
            for node in nodes:
                operations.start(cloud, "glance", node, "glance-api", "2026.1")
            events.write("step-end", id=FAULT, status="ok")
        after = runner.run(tempest_ledger.AFTER)
    finally:
        events.close()
    passed = [t for t, r in baseline["tests"].items() if r["status"] == "success"]
    assert any(t.startswith(IMAGES) for t in passed) and any(t.startswith(FLAVORS) for t in passed)
    assert all(r["status"] != "fail" for r in after["tests"].values()), after["tests"]
    verdict = tempest_oracle.check(RunRecord.load(tmp_path))
    assert verdict.status == "fail", verdict.summary
    assert verdict.evidence and all(IMAGES in e["test"] for e in verdict.evidence), verdict.evidence
    assert all(e["label"] == "during" and e["step"].startswith(FAULT) for e in verdict.evidence)
    assert (tmp_path / "tempest" / "02-during.subunit").stat().st_size > 0


def test_schema_passes_on_a_cloud_as_installed_and_fires_on_a_column_left_behind(cloud, tmp_path):
    """The cloud's databases are what a fresh install of its release makes (the real sync
    commands, in scratch databases): the oracle passes. A column a migration left behind
    (added here by hand) is a difference naming database, table and column."""
    cache_dir = cache.default_cache_dir()
    schema_dump.dump_all(cloud, "2026.1", tmp_path, cache_dir)
    verdict = schema_oracle.check(RunRecord.load(tmp_path))
    assert verdict.status == "pass", verdict.evidence[:5]
    assert verdict.counts["databases"] == 8 and verdict.counts["tables"] > 100
    mariadb.sql(cloud, "ALTER TABLE keystone.project ADD COLUMN left_behind INT;\n")
    try:
        shutil.rmtree(tmp_path / "schema")
        schema_dump.dump_all(cloud, "2026.1", tmp_path, cache_dir)  # fresh ones from the cache
    finally:
        mariadb.sql(cloud, "ALTER TABLE keystone.project DROP COLUMN left_behind;\n")
    verdict = schema_oracle.check(RunRecord.load(tmp_path))
    assert verdict.status == "fail"
    assert verdict.evidence == [{"database": "keystone", "table": "project", "kind": "column",
                                 "name": "left_behind", "rolled": "int(11) DEFAULT NULL",
                                 "fresh": None}]  # fmt: skip


def cast(cloud: Cloud, routing_key: str, method: str, version: str) -> None:
    """An oslo.messaging cast as a newer service sends it (the envelope oslo writes), to
    nova's exchange."""
    creds = cloud.broker().credentials()
    auth = pika.PlainCredentials(creds["user"], creds["password"])
    conn = pika.BlockingConnection(pika.ConnectionParameters(creds["host"], creds["port"],
                                                             "/", auth))  # fmt: skip
    try:
        inner = {"method": method, "args": {}, "version": version, "namespace": None,
                 "_unique_id": uuid.uuid4().hex}  # fmt: skip
        body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})
        props = pika.BasicProperties(content_type="application/json",
                                     content_encoding="utf-8")  # fmt: skip
        conn.channel().basic_publish("nova", routing_key, body, props)
    finally:
        conn.close()


def test_service_logs_fire_when_a_compute_is_cast_a_version_it_does_not_speak(cloud, tmp_path):
    def fault(_):
        # What a new conductor without a version cap sends an old compute.
        cast(cloud, "compute.controller", "build_and_run_instance", "99.0")
        time.sleep(3)  # the compute takes it off its queue and refuses it

    watched(cloud, tmp_path, "cast build_and_run_instance 99.0 to controller's compute", fault)
    collect.collect_logs(cloud, tmp_path / record.LOGS)
    verdict = service_logs.check(RunRecord.load(tmp_path))
    assert verdict.status == "fail", verdict.summary
    mine = [e for e in verdict.evidence if (e["step"] or "").startswith(FAULT)]
    assert [(e["node"], e["process"], e["release"], e["kind"]) for e in mine] == [
        ("controller", "nova-compute", "2026.1", "incompatible")], mine  # fmt: skip
    assert "UnsupportedVersion" in mine[0]["message"] and "99.0" in mine[0]["message"]


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
    ctx = steps.Context(
        Embedded(cloud, cache.default_cache_dir()), EventLog(tmp_path / "steps.jsonl")
    )
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
