"""The tempest oracle on recorded runs, the subunit parsing that records them, and the
config tempest gets from the cloud's facts."""

from __future__ import annotations

import datetime as dt
import io
import stat
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import subunit

from harness import scenario
from harness.checks import findings
from harness.checks.oracles import tempest
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, XFAIL
from harness.errors import UserError
from harness.run import tempest as run_tempest
from harness.tempest import config, ledger
from harness.tempest.control import Tempest, TempestOptions

ROOT = Path(__file__).resolve().parents[2]
A = "tempest.api.compute.servers.test_create_server.ServersTestJSON.test_list_servers[id-1,smoke]"
B = "tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_delete_image[id-2]"
C = "tempest.api.network.test_ports.PortsTestJSON.test_show_port[id-3]"
B_FIXTURE = "setUpClass (tempest.api.image.v2.test_images.BasicOperationsImagesTest)"
STEPS = [(100.0, 130.0, "6.1 nova-api on controller: drain, stop, upgrade, start"),
         (130.0, 160.0, "6.2 nova-api on compute-api: drain, stop, upgrade, start")]  # fmt: skip


def stream(*tests: tuple[str, str, float, str | None]) -> bytes:
    """A subunit v2 stream as stestr writes it: each test in progress, then its status."""
    out = io.BytesIO()
    writer = subunit.StreamResultToBytes(out)
    for test_id, status, t, traceback in tests:
        when = dt.datetime.fromtimestamp(t, dt.timezone.utc)
        writer.status(test_id=test_id, test_status="inprogress", timestamp=when)
        files = {"file_name": "traceback", "file_bytes": traceback.encode(),
                 "mime_type": "text/plain"} if traceback else {}  # fmt: skip
        end = when + dt.timedelta(seconds=2)
        writer.status(test_id=test_id, test_status=status, timestamp=end, **files)
    return out.getvalue()


def test_a_subunit_stream_gives_each_tests_status_times_and_exception():
    raw = stream((A, "success", 10.0, None),
                 (C, "fail", 20.0, "Traceback (most recent call last):\n  File x\n"
                                   "tempest.lib.exceptions.ServerFault: Got server fault\n"),
                 (B, "skip", 30.0, None))  # fmt: skip
    tests = ledger.parse(io.BytesIO(raw))
    assert tests[A] == {"status": "success", "start": 10.0, "end": 12.0, "reason": None}
    assert tests[C]["status"] == "fail"
    assert tests[C]["reason"] == "tempest.lib.exceptions.ServerFault: Got server fault"
    assert tests[B]["status"] == "skip"
    raw = stream((A, "fail", 10.0, "Traceback:\n  File rest_client.py\n    raise exceptions.X(\n"
                                   "tempest.lib.exceptions.UnexpectedResponseCode: Unexpected "
                                   "response code received\nDetails: 503\n"))  # fmt: skip
    assert ledger.parse(io.BytesIO(raw))[A]["reason"] == (
        "tempest.lib.exceptions.UnexpectedResponseCode: Unexpected response code received "
        "Details: 503")  # fmt: skip


def test_a_fixture_and_a_test_name_their_class():
    assert ledger.test_class(B_FIXTURE) == ledger.test_class(B)
    assert ledger.test_class(A).endswith("ServersTestJSON")


def run(n, label, tests, started=0.0, ended=1000.0, **extra):
    return {"run": n, "label": label, "started": started, "ended": ended, "exit_status": 0,
            "cut_short": False, "tests": tests, **extra}  # fmt: skip


def result(status, start, reason=None):
    return {"status": status, "start": start, "end": start + 2, "reason": reason}


def record(*runs) -> RunRecord:
    return RunRecord(timeline=Timeline(STEPS, []), tempest=list(runs))


BASELINE = run(1, "baseline", {A: result("success", 10), B: result("success", 12),
                               C: result("fail", 14, "NotFound")}, ended=50)  # fmt: skip


def test_passes_when_every_baseline_pass_passes_again_and_reports_baseline_failures():
    during = run(2, "during", {A: result("success", 110), B: result("success", 112),
                               C: result("fail", 114, "NotFound")}, 100, 150)  # fmt: skip
    after = run(3, "after", {A: result("success", 210), B: result("success", 212)}, 200, 250)
    v = tempest.check(record(BASELINE, during, after))
    assert v.status == "pass", v.summary
    assert v.counts["baseline_failed"] == [C]  # reported, not judged
    assert v.counts["runs"] == {"baseline": 1, "during": 1, "after": 1}


def test_fails_on_a_baseline_pass_failing_later_attributed_to_its_steps():
    during = run(2, "during", {A: result("fail", 128, "ServerFault: 500"),
                               B: result("success", 140), C: result("success", 141)},
                 100, 170)  # fmt: skip
    v = tempest.check(record(BASELINE, during))
    assert v.status == "fail"
    [e] = v.evidence
    assert (e["test"], e["label"], e["reason"]) == (A, "during", "ServerFault: 500")
    assert e["step"].startswith("6.1 ")
    assert [s.split()[0] for s in e["steps"]] == ["6.1", "6.2"]  # 128 to 130: both
    assert [s.split()[0] for s in e["run_steps"]] == ["6.1", "6.2"]


# A VIP failover from 127 s: moved at 129 s, answered at 129.5 s, all back at 131 s.
MOVED = {"t": 131.0, "event": "failover", "fault_at": 127.0, "moved_at": 129.0,
         "answered_at": 129.5, "restored_at": 131.0, "allowed_s": 5.0,
         "allowed_failed": 20}  # fmt: skip


def test_a_connection_lost_in_a_vip_failover_is_its_cost_and_nothing_else_in_it_is():
    reset = "keystoneauth1.exceptions.connection.ConnectFailure: Unable to establish connection"
    during = run(2, "during", {A: result("fail", 128, reset), B: result("fail", 129, reset),
                               C: result("success", 141)}, 100, 170)  # fmt: skip
    moved = dict(MOVED)
    r = record(BASELINE, during)
    r.events = [moved]
    v = tempest.check(r)
    assert v.status == "pass" and v.counts["failover_excused"] == 2, v.summary
    # the same outside the failover's window, or another failure inside it, counts
    r.events = [{**moved, "fault_at": 140.0, "answered_at": 141.0, "moved_at": 141.0,
                 "restored_at": 141.0}]  # fmt: skip
    assert tempest.check(r).status == "fail"
    during["tests"][A] = result("fail", 128, "ServerFault: 500")
    r.events = [moved]
    v = tempest.check(r)
    assert v.status == "fail" and [e["test"] for e in v.evidence] == [A]


def test_a_request_in_flight_when_the_vip_left_its_holder_is_the_failovers_cost():
    """Seen: tempest's POST /v3/users, taken by the old holder's HAProxy 0.4 s before the
    VIP left it, never answered; tempest failed 60 s later on its read timeout."""
    timeout = ("urllib3.exceptions.ReadTimeoutError: HTTPConnectionPool(host='10.251.0.10', "
               "port=5000): Read timed out. (read timeout=60)")  # fmt: skip
    during = run(2, "during", {A: result("fail", 190, timeout), B: result("success", 140),
                               C: result("success", 141)},
                 100, 200)  # fmt: skip
    moved = dict(MOVED)
    r = record(BASELINE, during)
    r.events = [moved]
    v = tempest.check(r)
    assert v.status == "pass" and v.counts["failover_excused"] == 1, v.summary
    # sent 60 s before 230, long after the failover's window: it counts
    during["tests"][A] = result("fail", 230, timeout)
    assert tempest.check(r).status == "fail"


SERVER, OTHER = "f754382f-4c05-4acc-a462-061d33b37aed", "15aae088-6c42-4efe-af78-c7fa64da5df4"
TEARDOWN = "tearDownClass (tempest.api.compute.servers.test_create_server.ServersTestJSON)"
FANOUT_LOG = (
    "{t} 5622 ERROR nova.compute.manager [None req-5b 90b 3ae - - default default] [instance: "
    "{uuid}] Unexpected build failure, not rescheduling build.: oslo_messaging.exceptions."
    "MessageDeliveryFailure: Unable to connect to AMQP server on 10.251.0.11:5672 after inf "
    "tries: Basic.publish: (404) NOT_FOUND - no exchange 'scheduler_fanout' in vhost '/'\n"
)


def fanout_roll(logged_uuid: str) -> RunRecord:
    """A teardown that could not delete its server (as in CI's roll), and a compute's log
    whose build failure names logged_uuid."""
    reason = (f"Details: Server {SERVER} failed to delete and is in ERROR status. Fault: "
              "{'code': 500, 'message': 'MessageDeliveryFailure'}.")  # fmt: skip
    during = run(2, "during", {A: result("success", 110), B: result("success", 112),
                               TEARDOWN: result("fail", 128, reason)}, 100, 150)  # fmt: skip
    r = record(BASELINE, during)
    r.logs = {"controller/nova-compute.log": FANOUT_LOG.format(t="2026-12-04 01:24:46.927",
                                                                uuid=logged_uuid)}  # fmt: skip
    return r


def test_a_failure_is_joined_to_the_log_record_naming_its_server_and_waived_only_so():
    known = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml").known_findings
    joined = tempest.check(fanout_roll(SERVER))
    [e] = joined.evidence
    assert (e["logged"]["process"], e["logged"]["node"]) == ("nova-compute", "controller")
    assert SERVER in e["logged"]["message"] and "scheduler_fanout" in e["logged"]["message"]
    assert findings.apply([joined], known)[0][0].status == XFAIL
    apart = tempest.check(fanout_roll(OTHER))  # the log names another server: no join
    assert apart.evidence[0]["logged"] is None
    assert findings.apply([apart], known)[0][0].status == FAIL


SETUP = "setUpClass (tempest.api.compute.servers.test_create_server.ServersTestJSON)"
REQ = "req-ce6c6a7b-626e-48a1-812f-86b99080d645"
SCHEDULER_LOG = (
    "2026-12-04 01:54:01.200 17042 ERROR oslo_messaging.rpc.server [None {req} ba5 745 - - "
    "default default] Exception during message handling: RuntimeError: Cannot create the "
    "cell_worker thread pool executor because shutdown has been started.\n"
)


def scheduler_roll(logged_request: str) -> RunRecord:
    """A class whose server failed to build (CI's roll, 6.19: the stopping scheduler), and
    the scheduler's error record of logged_request."""
    reason = (f"tempest.exceptions.BuildErrorException: Server {OTHER} failed to build and "
              "is in ERROR status Details: Fault: {'code': 500, 'message': 'RuntimeError'}. "
              "Request ID of server operation performed before checking the server status "
              f"{REQ}.")  # fmt: skip
    during = run(2, "during", {B: result("success", 112), SETUP: result("fail", 128, reason)},
                 100, 150)  # fmt: skip
    r = record(BASELINE, during)
    r.logs = {"controller/nova-scheduler.log": SCHEDULER_LOG.format(req=logged_request)}
    return r


def test_a_failure_is_joined_to_the_log_record_of_the_request_its_waiter_names():
    known = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml").known_findings
    joined = tempest.check(scheduler_roll(REQ))
    [e] = joined.evidence  # the fixture: the class's tests it kept from running are its
    assert e["test"] == SETUP and e["logged"]["process"] == "nova-scheduler"
    assert e["lost_message"] is None  # no bus trace recorded here
    assert findings.apply([joined], known)[0][0].status == XFAIL
    apart = tempest.check(scheduler_roll("req-00000000-626e-48a1-812f-86b99080d645"))
    assert apart.evidence[0]["logged"] is None
    assert findings.apply([apart], known)[0][0].status == FAIL


def conductor_roll(answered: bool) -> RunRecord:
    """A server tempest waited on in vain (its waiter names the request), whose compute's
    call the conductor took during its graceful stop; the reply only if `answered`."""
    reason = (f"tempest.lib.exceptions.TimeoutException: Request timed out Details: Server "
              f"{OTHER} failed to reach ACTIVE status and task state \"None\" within the "
              f"required time (196 s). Current status: BUILD. Request ID of server operation "
              f"performed before checking the server status {REQ}.")  # fmt: skip
    during = run(2, "during", {A: result("fail", 105, reason), B: result("success", 130)},
                 100, 150)  # fmt: skip
    r = record(BASELINE, during)
    r.timeline = Timeline([(100.0, 112.0, "6.5 nova-conductor on controller: graceful stop "
                            "(SIGTERM, bounded wait, SIGKILL), start on 2026.2")], [])  # fmt: skip
    call = {"role": "call", "msg_id": "5e1", "request_id": REQ, "method": "object_action"}
    r.bus = [{**call, "kind": "publish", "t": 106.0, "exchange": "nova"},
             {**call, "kind": "deliver", "t": 106.01, "queue": "conductor"}]  # fmt: skip
    if answered:
        r.bus.append({"kind": "publish", "role": "reply", "msg_id": "5e1", "t": 106.2})
    return r


def test_a_failure_whose_request_the_stopping_conductor_lost_is_waived_by_that_finding():
    known = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml").known_findings
    lost = tempest.check(conductor_roll(answered=False))
    [e] = lost.evidence
    assert (e["lost_message"]["queue"], e["lost_message"]["answered"]) == ("conductor", False)
    assert findings.apply([lost], known)[0][0].status == XFAIL
    answered = tempest.check(conductor_roll(answered=True))  # nothing on the bus was lost
    assert answered.evidence[0]["lost_message"] is None
    assert findings.apply([answered], known)[0][0].status == FAIL


def test_a_failed_class_fixture_fails_the_tests_it_kept_from_running():
    during = run(2, "during", {A: result("success", 110),
                               B_FIXTURE: result("fail", 140, "IdentityError: 503")},
                 100, 150)  # fmt: skip
    v = tempest.check(record(BASELINE, during))
    assert [e["test"] for e in v.evidence] == [B_FIXTURE]  # B is not also "not run"


def test_a_baseline_test_missing_from_a_whole_run_fails_but_not_from_one_cut_short():
    whole = run(2, "during", {A: result("success", 110)}, 100, 150)
    assert [(e["test"], e["reason"]) for e in tempest.check(record(BASELINE, whole)).evidence] \
        == [(B, "not run: the run ended without it")]  # fmt: skip
    timed_out = run(2, "during", {A: result("success", 110)}, 100, 150, exit_status=None)
    assert tempest.check(record(BASELINE, timed_out)).evidence[0]["reason"] == \
        "not run: the run timed out"  # fmt: skip
    cut = run(2, "during", {A: result("success", 110)}, 100, 150, cut_short=True, stopping=140)
    assert tempest.check(record(BASELINE, cut)).status == "pass"


def test_what_failed_after_the_harness_ended_a_run_is_not_judged():
    cut = run(2, "during", {A: result("success", 110), B: result("fail", 139, "killed")},
              100, 150, cut_short=True, stopping=140)  # fmt: skip
    assert tempest.check(record(BASELINE, cut)).status == "pass"
    early = run(2, "during", {A: result("success", 110), B: result("fail", 120, "500")},
                100, 150, cut_short=True, stopping=140)  # fmt: skip
    assert tempest.check(record(BASELINE, early)).status == "fail"


def test_cannot_judge_without_runs_or_without_a_baseline():
    assert tempest.check(RunRecord()).status == "unknown"
    assert tempest.check(record(run(1, "during", {A: result("success", 1)}))).status == "unknown"
    assert tempest.check(record(BASELINE)).status == "unknown"  # nothing after it


def test_the_config_comes_from_the_clouds_facts_and_only_its_owner_reads_it(tmp_path):
    cloud = SimpleNamespace(auth_url="http://10.250.0.10:5000/v3", state_dir=tmp_path,
                            secrets={"user-admin": "s3cret"})  # fmt: skip
    path = config.write(cloud, "img-1", "fl-1", tmp_path / "tempest.log")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "uri_v3 = http://10.250.0.10:5000/v3\n" in text
    assert "admin_password = s3cret" in text and "image_ref = img-1" in text
    assert "nova = true" in text and "cinder = true" in text and "swift = false" in text
    assert "create_isolated_networks = false" in text


def test_tempest_logs_into_the_run_folder_given_relative_to_the_harness(tmp_path, monkeypatch):
    # tempest runs in its own work dir: a run folder named relative to where the harness
    # started (`--report-dir reports/x`, or the default reports/<run-id>) left it nowhere to
    # log, and every run discovered 0 tests
    monkeypatch.chdir(tmp_path)
    cloud = SimpleNamespace(auth_url="http://10.250.0.10:5000/v3", state_dir=tmp_path,
                            secrets={"user-admin": "s3cret"})  # fmt: skip
    path = config.write(cloud, "img-1", "fl-1", Path("reports/x/tempest/tempest.log"))
    assert f"log_file = {tmp_path}/reports/x/tempest/tempest.log\n" in path.read_text()


def test_a_bad_tempest_regex_is_bad_input(tmp_path: Path):
    from harness import scenario

    base = (Path(__file__).resolve().parents[2] / "scenarios" / "nova-rolling.yaml").as_posix()
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {base}\ntempest:\n  regex: 'tempest.api.(compute'\n")
    with pytest.raises(UserError, match="tempest.regex") as e:
        scenario.load(bad)
    assert e.value.exit_status == 2
    good = tmp_path / "good.yaml"
    good.write_text(f"extends: {base}\ntempest:\n  regex: 'tempest.api.compute'\n  during: false\n")
    options = scenario.load(good).tempest
    assert (options.regex, options.during, options.enabled) == ("tempest.api.compute", False, True)


FAKE_TEMPEST = """
import sys, time, datetime as dt, subunit
out = subunit.StreamResultToBytes(sys.stdout.buffer)
now = dt.datetime.now(dt.timezone.utc)
out.status(test_id="t.A.test_a", test_status="inprogress", timestamp=now)
out.status(test_id="t.A.test_a", test_status="success", timestamp=now)
sys.stdout.flush()
time.sleep(float(sys.argv[1]))
"""


def fake(seconds: float):
    return lambda args: [sys.executable, "-c", FAKE_TEMPEST, str(seconds), *args]


def test_a_run_records_its_tests_and_one_cut_short_says_so(tmp_path):
    runner = Tempest(fake(0), tmp_path / "work", tmp_path, TempestOptions(regex="t"))
    done = runner.run(ledger.BASELINE)
    assert (done["exit_status"], done["cut_short"]) == (0, False)
    assert done["tests"]["t.A.test_a"]["status"] == "success"
    slow = Tempest(fake(60), tmp_path / "work", tmp_path, TempestOptions(regex="t"))
    slow.count = 1
    slow.start_during()
    deadline = time.monotonic() + 30
    while slow._proc is None and time.monotonic() < deadline:  # the first run has begun
        time.sleep(0.05)
    started = time.monotonic()
    slow.stop_during()
    assert time.monotonic() - started < 15  # ended, not waited for
    runs = ledger.read(tmp_path / ledger.LEDGER)
    assert [(r["run"], r["label"], r["cut_short"]) for r in runs] == [
        (1, "baseline", False), (2, "during", True)]  # fmt: skip
    assert runs[1]["stopping"] is not None and (tmp_path / "tempest" / "02-during.subunit").exists()


def test_closing_removes_its_work_dir_and_config_from_the_state_dir_not_its_records(tmp_path):
    scratch, run_dir = tmp_path / "state" / "tempest", tmp_path / "run"
    conf = scratch / "tempest.conf"
    scratch.mkdir(parents=True)
    conf.write_text("[auth]\nadmin_password = s3cret\n")
    runner = Tempest(fake(0), scratch / "work", run_dir, TempestOptions(regex="t"), config=conf)
    runner.run(ledger.BASELINE)
    runner.close()
    assert not scratch.exists()  # the password went with it
    assert (run_dir / ledger.FOLDER / "01-baseline.subunit").exists()


def test_a_run_past_its_timeout_is_ended_and_what_it_missed_is_judged(tmp_path):
    runner = Tempest(fake(60), tmp_path / "work", tmp_path, TempestOptions(run_timeout=1))
    done = runner.run(ledger.DURING)
    assert (done["exit_status"], done["cut_short"]) == (None, False)


def test_devstacks_tempest_runs_on_the_controller_over_ssh_with_the_regex_quoted():
    argv = run_tempest.on_devstack_node("ssh://stack@10.0.0.11:2222?sudo=true&ssh_identity_file=/k")(
        ["--regex", "^tempest\\.api\\.(compute|image) x", "--subunit"])  # fmt: skip
    assert argv[:7] == ["ssh", "-o", "BatchMode=yes", "-p", "2222", "-i", "/k"]
    assert argv[7] == "stack@10.0.0.11"
    assert argv[8].startswith("cd /opt/stack/tempest && ")
    assert argv[8].endswith("run --regex '^tempest\\.api\\.(compute|image) x' --subunit")
    here = run_tempest.on_devstack_node("local://")(["--subunit"])
    assert here[:2] == ["bash", "-c"] and "exec $T run --subunit" in here[2]
