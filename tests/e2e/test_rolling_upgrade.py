"""`harness run` on real services: the whole roll from 2026.1 to 2026.2 completes every
step of its plan, and afterwards every process on every node runs 2026.2, as the
processes themselves say (`harness status` asks them, not the plan).

The target's nova is not its PyPI wheel but its sdist with the code catalog's harmless
patch (one more conductor log line), given as `--source nova=TREE`: a roll to code under
review passes when the code is fine (no false alarm), and it is that code that ran."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import subunit
import testtools

from harness.checks import haproxy_log
from harness.load import ledger
from harness.plan.events import read
from harness.releases import cache, catalog, sdists
from harness.services import ORDER

from .conftest import OWNER, ROOT, SCENARIO, footprint, harness

SEED = "3"
HARMLESS = ROOT / "scenarios" / "code" / "patches" / "c0-harmless-log-line.diff"
LOG_LINE = "upgrade-harness: scheduling and building"


@pytest.fixture(scope="module")
def source() -> str:
    nova = catalog.get("2026.2").versions["nova"]
    tree = sdists.patched("nova", nova, HARMLESS, cache.default_cache_dir())
    return f"nova={tree}"


@pytest.fixture(scope="module")
def rolled(state_dir, tmp_path_factory, source):
    # The run folder named relative to where the harness starts, as a user names it: what
    # runs elsewhere (tempest, in its work dir) must still write into it.
    where = tmp_path_factory.mktemp("run")
    report = where / "report"
    done = harness(state_dir, "run", str(SCENARIO), "--seed", SEED, "--report-dir", "report",
                   "--keep", "--source", source, timeout=1800, cwd=where)  # fmt: skip
    secrets = list(json.loads((state_dir / "secrets.json").read_text()).values())
    return done, report, secrets


def test_the_run_passes_and_completes_every_planned_step(rolled, state_dir, source):
    done, report, _ = rolled
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads((report / "results.json").read_text())
    planned = harness(state_dir, "plan", str(SCENARIO), "--seed", SEED, "--source", source).stdout
    assert summary["verdict"] == "pass" and summary["seed"] == int(SEED)
    count = next(line.split()[0] for line in planned.splitlines() if line.endswith(" steps"))
    assert len(summary["steps"]) == int(count)
    assert all(s["status"] == "ok" for s in summary["steps"])
    for step in summary["steps"]:
        assert step["ended"] >= step["started"] and isinstance(step["forced_kill"], bool)
    assert (report / "plan.txt").read_text() == planned


def test_the_patched_source_is_what_ran_and_the_reports_say_so(rolled, source):
    _, report, _ = rolled
    summary = json.loads((report / "results.json").read_text())
    tree = source.split("=", 1)[1]
    (src,) = summary["sides"]["to"]["sources"]
    assert (src["project"], src["path"], src["commit"], src["dirty"]) == ("nova", tree, None,
                                                                          False)  # fmt: skip
    assert summary["sides"]["to"]["projects"]["nova"] == "34.0.0"  # pbr, from the PKG-INFO
    assert summary["sides"]["from"]["sources"] == []
    assert f"--source {source}" in summary["replay"]
    conductor = (report / "logs" / "controller" / "nova-conductor.log").read_text()
    assert LOG_LINE in conductor, "the patched conductor never logged its line"


def test_every_process_reports_the_target_release(rolled, state_dir):
    status = harness(state_dir, "status")
    assert status.returncode == 0, status.stdout
    rows = [line.split() for line in status.stdout.splitlines()[2:] if line[:1] not in (" ", "H")]
    services = [
        r
        for r in rows
        if r[1].startswith(("nova-", "keystone", "glance", "placement", "neutron", "cinder"))
    ]
    assert len(services) == 19  # 6 APIs on 2 nodes; conductor, scheduler, 2 computes; cinder's 3
    assert {r[2] for r in services} == {"2026.2"}, services


def test_events_bracket_every_step_and_follow_releases_as_they_change(rolled):
    _, report, _ = rolled
    events = read(report / "events.jsonl")
    starts = [e for e in events if e["event"] == "step-start"]
    ends = [e for e in events if e["event"] == "step-end"]
    assert [e["id"] for e in starts] == [e["id"] for e in ends]
    releases = [e["releases"] for e in events if e["event"] == "releases"]
    assert len(releases) == len(ends) + 1
    assert releases[0]["compute-api"]["nova-api"] == "2026.1"
    assert releases[-1]["compute-api"]["nova-api"] == "2026.2"
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)


def test_the_report_folder_holds_every_log_and_no_secret(rolled):
    _, report, secrets = rolled
    logs = list((report / "logs").rglob("*.log"))
    assert {p.parent.name for p in logs} == {"controller", "compute-api"}
    assert any(p.name == "nova-conductor.log" for p in logs)
    for path in report.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{path} holds a secret of the run"


def test_down_after_a_kept_run_leaves_nothing(rolled, state_dir):
    assert not (state_dir / "tempest").exists()  # its config (a password) went with the run
    assert harness(state_dir, "down").returncode == 0
    after = footprint(state_dir)
    assert after.empty(), after
    # nor a file: the services' home (stevedore's cache under it), configs, records, keys
    assert sorted(p.name for p in state_dir.iterdir() if p.name != OWNER) == []


def test_the_load_spans_the_roll_and_every_oracle_judges_it(rolled):
    _, report, _ = rolled
    summary = json.loads((report / "results.json").read_text())
    requests, operations = ledger.read(report / "load" / "requests.jsonl")
    events = read(report / "events.jsonl")
    first_step = min(e["t"] for e in events if e["event"] == "step-start")
    last_step = max(e["t"] for e in events if e["event"] == "step-end")
    assert min(r.sent for r in requests) < first_step and max(r.sent for r in requests) > last_step
    assert {r.backend for r in requests if r.status} >= {"controller", "compute-api"}
    versions = {r.max_version for r in requests if r.max_version}
    assert versions == {"2.103", "2.104"}, versions  # both releases' APIs answered
    assert any(o.kind == "server-create" and o.final == "ACTIVE" for o in operations)
    oracles = summary["oracles"]
    assert set(oracles) == {"failed_requests", "monotonic_version", "rpc_bus", "rpc_end_to_end",
                            "resources", "hosts", "procedure", "service_logs",
                            "latency", "schema", "disruption", "tempest", "rpc_pins"}  # fmt: skip
    for name, verdict in oracles.items():  # pass, or fail only as the scenario's known findings
        assert verdict["verdict"] in ("pass", "xfail"), (name, verdict["summary"])
    assert oracles["failed_requests"]["requests"] == len(requests)
    bus = oracles["rpc_bus"]
    assert bus["published"] > 100 and bus["delivered"] > 100, bus
    assert bus["lost"] == 0 or bus["verdict"] == "xfail", bus  # only the known findings
    assert oracles["rpc_end_to_end"]["started"] >= 10
    assert (oracles["resources"]["resources"], oracles["resources"]["problems"]) == (6, 0)
    assert oracles["hosts"]["checks"] >= 30
    assert oracles["service_logs"]["files"] >= 20  # every service's log was read
    runs = oracles["tempest"]["runs"]  # a baseline, at least one run during the roll, one after
    assert runs["baseline"] == 1 and runs["during"] >= 1 and runs["after"] == 1, runs
    assert oracles["tempest"]["baseline_passed"] >= 20, oracles["tempest"]


def test_each_drained_api_restarts_with_haproxys_checks_paused(rolled):
    """Every API restart in the plan (each drained first) went through maintenance, which
    pauses HAProxy's checks while the new app loads: one maintenance per restart."""
    _, report, _ = rolled
    for node in ("controller", "compute-api"):  # each node's HAProxy got every command
        _, changes = haproxy_log.parse((report / "logs" / node / "haproxy.log").read_text())
        maint = Counter((c.frontend, c.server) for c in changes if c.event == "maint")
        _assert_one_maintenance_per_restart(maint, report)


def _assert_one_maintenance_per_restart(maint: Counter, report) -> None:
    apis = {svc.api.name for svc in ORDER if svc.api}
    restarts = Counter((e["description"].split()[0], e["node"])
                       for e in read(report / "events.jsonl")
                       if e["event"] == "step-start" and e.get("kind") == "restart"
                       and e["description"].split()[0] in apis)  # fmt: skip
    assert len(restarts) == 12 and maint == restarts, (maint, restarts)


def test_the_run_folder_holds_the_reports_and_locusts_csvs(rolled):
    done, report, _ = rolled
    assert {"results.json", "junit.xml", "report.html", "run.json", "results.subunit"} <= {
        p.name for p in report.iterdir()
    }
    # the gate's stream, read back with python-subunit: a test per step and per oracle, each
    # a success or (a known finding) a skip
    tests = {}
    with (report / "results.subunit").open("rb") as f:
        result = testtools.StreamToDict(lambda t: tests.__setitem__(t["id"], t["status"]))
        result.startTestRun()
        subunit.ByteStreamToStreamResult(f).run(result)
        result.stopTestRun()
    summary = json.loads((report / "results.json").read_text())
    assert len(tests) == len(summary["steps"]) + len(summary["oracles"]), sorted(tests)
    assert set(tests.values()) <= {"success", "skip"}, tests
    assert "verdict PASS" in done.stdout and str(report / "report.html") in done.stdout
    stats = (report / "load" / "locust_stats.csv").read_text().splitlines()
    assert stats[0].startswith("Type,Name") and any("/v2.1/servers" in line for line in stats)
