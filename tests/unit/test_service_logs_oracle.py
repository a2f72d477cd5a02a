"""Oracle 8, service_logs: error records in the services' logs, attributed to process,
release and step — judged on logs written the way oslo.log and journald write them."""

from __future__ import annotations

import time
from pathlib import Path

from harness import scenario
from harness.checks import findings
from harness.checks.findings import KnownFinding
from harness.checks.oracles import service_logs
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN, XFAIL

T0 = time.mktime((2026, 12, 2, 1, 0, 0, 0, 0, -1))  # local time, as oslo.log writes it
OLD, NEW = 1000, 2000  # nova-compute's pids before and after its restart (step 6.8)
ROOT = Path(__file__).resolve().parents[2]
VENV1 = "/root/.cache/upgrade-harness/venvs/2026.1-b204e912f9e7/lib/python3.11/site-packages"


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f"{t % 1:.3f}"[1:]


def line(t: float, pid: int, level: str, logger: str, text: str) -> str:
    return f"{stamp(t)} {pid} {level} {logger} {text}"


def traceback(t: float, pid: int, logger: str, message: str, frames: list[str],
              exception: str) -> list[str]:  # fmt: skip
    body = [message, "Traceback (most recent call last):", *frames, exception]
    return [line(t, pid, "ERROR", logger, text) for text in body]


def record(logs: dict[str, list[str]], bus: list[dict] | None = None) -> RunRecord:
    """A roll from T0+10 on: step 6.6 (the scheduler's restart, T0+20..25) and 6.8 (the
    controller's nova-compute restart, T0+30..40)."""
    rel = {"controller": {"nova-compute": "2026.1", "nova-scheduler": "2026.1"}}
    after_6 = {"controller": {"nova-compute": "2026.1", "nova-scheduler": "2026.2"}}
    after_8 = {"controller": {"nova-compute": "2026.2", "nova-scheduler": "2026.2"}}
    events = [{"t": T0 + 10, "event": "plan", "steps": 2, "seed": 1}]
    steps = [(T0 + 20, T0 + 25, "6.6 nova-scheduler on controller: graceful stop, start on "
              "2026.2"), (T0 + 30, T0 + 40, "6.8 nova-compute on controller: graceful stop, "
              "start on 2026.2")]  # fmt: skip
    timeline = Timeline(steps, [(T0 + 10, rel), (T0 + 25.01, after_6), (T0 + 40.01, after_8)])
    texts = {name: "\n".join(lines) + "\n" for name, lines in logs.items()}
    return RunRecord(timeline=timeline, events=events, logs=texts, bus=bus)


def compute_log(*extra: str) -> list[str]:
    return [
        line(T0 + 1, OLD, "INFO", "nova.service", "[-] Starting compute node (version 33.0.0)"),
        *extra,
        line(T0 + 35, NEW, "INFO", "nova.service", "[-] Starting compute node (version 34.0.0)"),
    ]


def test_logs_without_an_error_during_the_roll_pass():
    before = line(T0 + 2, OLD, "ERROR", "stevedore.extension", "Could not load 'x'")
    v = service_logs.check(record({"controller/nova-compute.log": compute_log(before)}))
    assert v.status == PASS
    assert v.counts == {"files": 1, "records": 0, "before_roll": 1, "processes": 0,
                        "incompatible": 0, "failover_excused": 0}  # fmt: skip


def test_an_old_computes_typeerror_is_one_record_attributed_to_its_release_and_step():
    tb = traceback(
        T0 + 22, OLD, "oslo_messaging.rpc.server",
        "[req-1 - - - - - -] Exception during message handling: TypeError: "
        "build_and_run_instance() got an unexpected keyword argument 'share_info'",
        [f'  File "{VENV1}/oslo_messaging/rpc/server.py", line 174, in _process_incoming',
         "    res = self.dispatcher.dispatch(message)"],
        "TypeError: build_and_run_instance() got an unexpected keyword argument 'share_info'",
    )  # fmt: skip
    v = service_logs.check(record({"controller/nova-compute.log": compute_log(*tb)}))
    assert v.status == FAIL and v.counts["records"] == 1 and len(v.evidence) == 1
    e = v.evidence[0]
    assert (e["node"], e["process"], e["pid"], e["release"]) == (
        "controller",
        "nova-compute",
        OLD,
        "2026.1",
    )
    assert e["step"].startswith("6.6 nova-scheduler on controller")
    assert e["kind"] == "traceback" and e["logger"] == "oslo_messaging.rpc.server"
    assert e["exception"] == ("TypeError: build_and_run_instance() got an unexpected "
                              "keyword argument 'share_info'")  # fmt: skip
    assert e["message"].startswith("Exception during message handling")  # context dropped
    assert "nova-compute on controller (2026.1) during 6.6" in v.summary


def test_a_pid_first_seen_during_its_own_restart_is_the_new_release():
    err = line(T0 + 36, NEW, "ERROR", "nova.compute.manager", "Something failed")
    v = service_logs.check(record({"controller/nova-compute.log": compute_log(err)}))
    assert v.evidence[0]["release"] == "2026.2"  # the releases change only at 6.8's end
    assert v.evidence[0]["step"].startswith("6.8 ")
    # A new process that dies at once (its step fails, no releases follow) is still new.
    died = [line(T0 + 31, NEW, "INFO", "nova.service", "[-] Starting"),
            line(T0 + 32, NEW, "ERROR", "nova.virt.driver", "[-] Compute driver option "
                 "required, but not specified")]  # fmt: skip
    failed = record({"controller/nova-compute.log": compute_log()[:1] + died})
    failed.timeline.releases[:] = failed.timeline.releases[:2]  # none after 6.8
    assert service_logs.check(failed).evidence[0]["release"] == "2026.2"


def test_a_traceback_python_printed_itself_is_a_record_at_the_last_timestamped_line():
    """An exception no handler caught in a thread: Python writes it to the log without
    oslo.log's prefix (neutron-api's segments notifier did, 8 to 36 times a run)."""
    bare = ["Exception in thread Thread-3 (synced_send):",
            "Traceback (most recent call last):",
            f'  File "{VENV1}/neutron/notifiers/batch_notifier.py", line 69, in _notify',
            "    self.callback(batched_events)",
            "KeyError: 'x'", "",
            "During handling of the above exception, another exception occurred:", "",
            "Traceback (most recent call last):",
            '  File "/v/keystoneauth1/session.py", line 1360, in _auth_required',
            "keystoneauth1.exceptions.auth_plugins.MissingAuthPlugin: An auth plugin is "
            "required to determine endpoint URL",
            "WSGI app 0 (mountpoint='') ready in 3 seconds",
            line(T0 + 36, NEW, "INFO", "nova.compute.manager", "after")]  # fmt: skip
    before = line(T0 + 22, OLD, "INFO", "nova.compute.manager", "[-] before")
    v = service_logs.check(record({"controller/nova-compute.log": compute_log(before, *bare)}))
    assert v.status == FAIL and len(v.evidence) == 1, v.evidence
    e = v.evidence[0]
    assert (e["pid"], e["release"], e["kind"], e["logger"]) == (OLD, "2026.1", "traceback",
                                                                 "python")  # fmt: skip
    assert e["step"].startswith("6.6 ") and e["message"].startswith("Exception in thread")
    assert e["exception"].startswith("keystoneauth1.exceptions.auth_plugins.MissingAuthPlugin")
    # Python's own lines outside a traceback are not records
    calm = compute_log(before, "WSGI app 0 (mountpoint='') ready in 3 seconds", "  indented")
    assert service_logs.check(record({"controller/nova-compute.log": calm})).status == PASS


def test_an_incompatible_object_is_its_own_kind_and_counted():
    tb = traceback(T0 + 12, OLD, "nova.compute.manager", "Error updating resources",
                   ['  File "x.py", line 1, in f'],
                   "oslo_versionedobjects.exception.IncompatibleObjectVersion: Version 1.42 "
                   "of Instance is not supported, supported version is 1.41")  # fmt: skip
    v = service_logs.check(record({"controller/nova-compute.log": compute_log(*tb)}))
    assert v.evidence[0]["kind"] == "incompatible" and v.counts["incompatible"] == 1
    assert v.evidence[0]["step"] is None  # between steps


def test_no_log_collected_is_unknown():
    assert service_logs.check(RunRecord()).status == UNKNOWN


def test_journald_lines_from_a_devstack_node_are_read():
    iso = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(T0 + 22))
    log = [f"{iso} node1 nova-compute[{OLD}]: ERROR nova.compute.manager [None req-2] "
           "Build failed: nova.exception.UnsupportedVersion: Endpoint does not support RPC "
           "version 6.6"]  # fmt: skip
    v = service_logs.check(record({"controller/nova-compute.log": log}))
    assert v.status == FAIL and v.evidence[0]["kind"] == "incompatible"
    assert v.evidence[0]["release"] == "2026.1"


def test_a_reply_timeout_names_the_step_its_call_was_sent_in():
    msg = "Timed out waiting for a reply to message ID 8a20943"
    tb = traceback(T0 + 37, NEW, "oslo_service.periodic_task",
                   f"Error during update_available_resource: MessagingTimeout: {msg}",
                   ['  File "y.py", line 2, in g'],
                   f"oslo_messaging.exceptions.MessagingTimeout: {msg}")  # fmt: skip
    bus = [{"kind": "publish", "role": "call", "msg_id": "8a20943", "t": T0 + 21,
            "method": "object_class_action_versions", "routed_queues": ["conductor"]}]  # fmt: skip
    v = service_logs.check(record({"controller/nova-compute.log": compute_log(*tb)}, bus))
    call = v.evidence[0]["call"]
    assert (call["method"], call["queue"]) == ("object_class_action_versions", "conductor")
    assert call["step"].startswith("6.6 ")  # sent then, though logged during 6.8
    assert service_logs.check(record({"controller/nova-compute.log": compute_log(*tb)}))\
        .evidence[0]["call"] is None  # no bus trace: nothing to correlate  # fmt: skip


def test_a_command_is_attributed_to_the_venv_its_traceback_ran_from():
    tb = traceback(T0 + 12, 3000, "nova.cmd.manage", "Error attempting to run migration",
                   [f'  File "{VENV1}/nova/cmd/manage.py", line 9, in run'],
                   "KeyError: 'x'")  # fmt: skip
    v = service_logs.check(record({"controller/nova-manage.log": tb}))
    assert (v.evidence[0]["process"], v.evidence[0]["release"]) == ("nova-manage", "2026.1")


def test_a_known_finding_waives_only_the_records_it_names():
    fanout = line(T0 + 21, OLD, "ERROR", "oslo.messaging._drivers.impl_rabbit",
                  "[-] Failed to publish message to topic 'scheduler_fanout': Basic.publish: "
                  "(404) NOT_FOUND - no exchange 'scheduler_fanout' in vhost '/'")  # fmt: skip
    other = line(T0 + 23, OLD, "ERROR", "nova.compute.manager", "[-] Build failed: boom")
    known = (KnownFinding("service_logs", "one scheduler's fanout exchange", (
        ("process", "nova-compute"), ("release", r"2026\.1"),
        ("step", r"\S+ nova-scheduler on controller: graceful stop.*"),
        ("message", ".*no exchange 'scheduler_fanout' in vhost.*"))),)  # fmt: skip
    alone = service_logs.check(record({"controller/nova-compute.log": compute_log(fanout)}))
    assert findings.apply([alone], known)[0][0].status == XFAIL
    both = service_logs.check(record({"controller/nova-compute.log":
                                      compute_log(fanout, other)}))  # fmt: skip
    assert findings.apply([both], known)[0][0].status == FAIL


def test_the_default_scenarios_fanout_finding_waives_the_build_it_failed_and_nothing_later():
    """All three records a 2026.1 compute writes when its fanout cast meets the missing
    exchange (the driver's two lines, then the build's traceback) are the scenario's known
    finding while the scheduler restarts; the same build failure after it is not."""
    known = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml").known_findings
    err = "Basic.publish: (404) NOT_FOUND - no exchange 'scheduler_fanout' in vhost '/'"
    mdf = ("oslo_messaging.exceptions.MessageDeliveryFailure: Unable to connect to AMQP "
           f"server on 10.20.0.1:5672 after None tries: {err}")  # fmt: skip

    def failed_build(t: float) -> list[str]:
        return [
            line(t, OLD, "ERROR", "oslo.messaging._drivers.impl_rabbit",
                 f"[-] Failed to publish message to topic 'scheduler_fanout': {err}"),
            line(t + 0.002, OLD, "ERROR", "oslo.messaging._drivers.impl_rabbit",
                 f"[-] {mdf.split(': ', 1)[1]}"),
            *traceback(t + 0.01, OLD, "nova.compute.manager",
                       "[instance: 3f0c] Failed to build and run instance",
                       [f'  File "{VENV1}/nova/compute/manager.py", line 2958, in '
                        "_build_and_run_instance"], mdf),
        ]  # fmt: skip

    during = service_logs.check(record({"controller/nova-compute.log":
                                        compute_log(*failed_build(T0 + 21))}))  # fmt: skip
    assert during.status == FAIL and len(during.evidence) == 3
    assert findings.apply([during], known)[0][0].status == XFAIL
    later = service_logs.check(record({"controller/nova-compute.log":
                                       compute_log(*failed_build(T0 + 27))}))  # fmt: skip
    assert findings.apply([later], known)[0][0].status == FAIL


def lost_call_bus(msg_id: str, request: str, sent: float, answered: bool = False) -> list[dict]:
    """A compute's call to the conductor, delivered 5 ms after it was sent; its reply only
    if `answered`."""
    call = {"role": "call", "key": f"u-{msg_id}", "msg_id": msg_id, "request_id": request,
            "method": "object_action", "exchange": "nova"}  # fmt: skip
    bus = [{**call, "kind": "publish", "t": sent, "routed_queues": ["conductor"]},
           {**call, "kind": "deliver", "t": sent + 0.005, "queue": "conductor"}]  # fmt: skip
    if answered:
        bus.append({"kind": "publish", "role": "reply", "msg_id": msg_id, "t": sent + 0.1})
    return bus


def test_a_lost_calls_request_ties_the_builds_other_records_to_it():
    """The compute's MessagingTimeout names its call; the build's failure logged after it
    under the same request carries that call too; a record of another request does not."""
    req, other = "req-6f1c2d3e-0000-4000-8000-000000000001", "req-0a0b0c0d-1111"
    msg = "Timed out waiting for a reply to message ID 5e1"
    timeout = line(
        T0 + 31,
        OLD,
        "ERROR",
        "nova.compute.manager",
        f"[{req} admin admin - - - -] [instance: 3f0c] MessagingTimeout: {msg}",
    )
    failed = traceback(
        T0 + 31.2,
        OLD,
        "nova.compute.manager",
        f"[None {req} admin admin - - - -] [instance: 3f0c] Build failed",
        ['  File "x.py", line 1, in f'],
        "nova.exception.BuildAbortException: x",
    )
    unrelated = line(T0 + 31.5, OLD, "ERROR", "nova.compute.manager", f"[{other}] boom")
    bus = lost_call_bus("5e1", req, T0 + 21)
    v = service_logs.check(record({"controller/nova-compute.log":
                                   compute_log(timeout, *failed, unrelated)}, bus))  # fmt: skip
    first, build, alone = v.evidence
    assert first["request"] == build["request"] == req and alone["request"] == other
    assert first["call"]["delivered_step"].startswith("6.6 ") and not first["call"]["answered"]
    assert build["call"]["via"] == "request" and build["call"]["method"] == "object_action"
    assert alone["call"] is None
    answered = service_logs.check(record({"controller/nova-compute.log": compute_log(
        timeout, *failed)}, lost_call_bus("5e1", req, T0 + 21, answered=True)))  # fmt: skip
    assert answered.evidence[0]["call"]["answered"] is True
    assert answered.evidence[1]["call"] is None  # an answered call lost nothing to join


def test_the_default_scenarios_conductor_finding_waives_what_its_lost_call_caused_only():
    """Every record of a request whose call the stopping conductor took and never answered
    is the scenario's conductor finding; the same records are a failure when the call was
    answered, or delivered outside the conductor's stop."""
    known = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml").known_findings
    req = "req-6f1c2d3e-0000-4000-8000-000000000002"
    msg = "Timed out waiting for a reply to message ID 7a2"
    logs = compute_log(
        line(
            T0 + 31,
            OLD,
            "ERROR",
            "nova.compute.manager",
            f"[{req} - - - - - -] oslo_messaging.exceptions.MessagingTimeout: {msg}",
        ),
        *traceback(
            T0 + 31.2,
            OLD,
            "nova.compute.manager",
            f"[{req} - -] Build failed",
            ['  File "x.py", line 1, in f'],
            "nova.exception.RescheduledException: x",
        ),
    )

    def verdict(steps: list, bus: list[dict]) -> str:
        r = record({"controller/nova-compute.log": logs}, bus)
        r.timeline.steps[:] = steps  # the conductor's restart instead of the scheduler's
        return findings.apply([service_logs.check(r)], known)[0][0].status

    conductor = [(T0 + 20, T0 + 25, "6.5 nova-conductor on controller: graceful stop, start "
                  "on 2026.2")]  # fmt: skip
    elsewhere = [(T0 + 20, T0 + 25, "6.6 nova-scheduler on controller: graceful stop, start "
                  "on 2026.2")]  # fmt: skip
    assert verdict(conductor, lost_call_bus("7a2", req, T0 + 21)) == XFAIL
    assert verdict(conductor, lost_call_bus("7a2", req, T0 + 21, answered=True)) == FAIL
    assert verdict(elsewhere, lost_call_bus("7a2", req, T0 + 21)) == FAIL


def test_a_connection_to_the_vip_cut_in_a_failover_is_its_cost_nothing_else_is():
    """Seen: nova-compute failed a build on placement through the VIP while the VIP moved
    (ConnectFailure to http://VIP:8778), and the conductor's reschedule quoted it. Both
    are the failover's; a connection error to another address in it, or one to the VIP
    outside it, still counts."""
    vip = "10.251.0.10"
    cut = f"Failed to build and run instance: keystoneauth1.exceptions.connection.ConnectFailure: Unable to establish connection to http://{vip}:8778/allocations"  # noqa: E501
    other = "Failed to build and run instance: ConnectFailure: Unable to establish connection to http://10.251.0.11:9696/ports"  # noqa: E501
    logs = {"controller/nova-compute.log": compute_log(
        line(T0 + 21, OLD, "ERROR", "nova.compute.manager", f"[req-11111111 a b - - -] {cut}"),
        line(T0 + 22, OLD, "ERROR", "nova.compute.manager", f"[req-22222222 a b - - -] {other}"),
        line(T0 + 50, NEW, "ERROR", "nova.compute.manager", f"[req-33333333 a b - - -] {cut}"),
    )}  # fmt: skip
    r = record(logs)
    r.events = [*r.events, {"t": T0 + 24, "event": "failover", "vip": vip, "fault_at": T0 + 20,
                            "moved_at": T0 + 22, "answered_at": T0 + 22, "restored_at": T0 + 24,
                            "allowed_s": 5, "allowed_failed": 25, "step": "FAULT"}]  # fmt: skip
    v = service_logs.check(r)
    assert v.counts["failover_excused"] == 1
    assert [e["request"] for e in v.evidence] == ["req-22222222", "req-33333333"]


def test_a_record_knows_the_errors_its_request_met_in_every_process():
    """An agent's request id travels into the server it calls: each record of that request
    carries what every record of it named ("process: Exception"), so a record that names
    none itself ("Failed to bind port …") is known by the subnet its request found gone."""
    req, other = "req-62493b7c-a7d2-4969-b4b8-bbb88f21e68f", "req-0a0b0c0d-1111"
    gone = ("Mechanism driver openvswitch failed in bind_port: neutron_lib.exceptions."
            "SubnetNotFound: Subnet 893e could not be found.")  # fmt: skip
    server = [
        line(T0 + 31, 7, "ERROR", "neutron.plugins.ml2.managers",
             f"[None {req} - - - - - -] {gone}"),
        line(T0 + 31.1, 7, "ERROR", "neutron.plugins.ml2.managers",
             f"[None {req} - - - - - -] Failed to bind port 7973 on host controller"),
        line(T0 + 32, 7, "ERROR", "neutron.plugins.ml2.managers",
             f"[None {other} - - - - - -] Failed to bind port 1111 on host controller"),
    ]  # fmt: skip
    agent = [line(T0 + 31.2, 8, "ERROR", "neutron.agent.dhcp.agent",
                  f"[None {req} - - - - - -] Unable to enable dhcp for c5cb.: oslo_messaging."
                  "rpc.client.RemoteError: Remote error: PortNotFound Port 01f8 could not be "
                  "found.")]  # fmt: skip
    v = service_logs.check(record({"controller/neutron-rpc-server.log": server,
                                   "controller/neutron-dhcp-agent.log": agent}))  # fmt: skip
    by_message = {e["message"][:24]: e["same_request"] for e in v.evidence}
    met = "neutron-dhcp-agent: PortNotFound; neutron-dhcp-agent: RemoteError; " \
          "neutron-rpc-server: SubnetNotFound"  # fmt: skip
    assert by_message[gone[:24]] == met
    assert by_message["Failed to bind port 7973"] == met
    assert by_message["Unable to enable dhcp fo"] == met
    assert by_message["Failed to bind port 1111"] == ""  # its request named none
