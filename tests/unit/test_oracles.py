"""The request oracles on crafted ledgers: each must fail on a bad history and pass on a
good one, and attribute what it finds."""

import dataclasses
import json
import time

from harness.checks.oracles import failed_requests, monotonic_version, rpc_end_to_end
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict, worst
from harness.load import ledger
from harness.load.ledger import Operation, Request

EVENTS = [
    {"t": 0.0, "event": "releases", "releases": {"controller": {"nova-api": "2026.1"},
                                                 "compute-api": {"nova-api": "2026.1"}}},
    {"t": 10.0, "event": "step-start", "id": "6.10",
     "description": "nova-api on controller: restart"},
    {"t": 14.0, "event": "step-end", "id": "6.10"},
    {"t": 14.0, "event": "releases", "releases": {"controller": {"nova-api": "2026.2"},
                                                  "compute-api": {"nova-api": "2026.1"}}},
]  # fmt: skip
TIMELINE = Timeline.from_events(EVENTS)


def req(sent, received, status=200, client="c1", backend="controller", version=None,
        name="nova GET /", expected=(200,), error=None):  # fmt: skip
    return Request(client, sent, received, "GET", name, status, expected, error, backend,
                   f"req-{sent}", version)  # fmt: skip


def test_failed_requests_pass_on_a_clean_history():
    v = failed_requests.check(
        RunRecord(TIMELINE, [req(1, 1.1), req(2, 2.1, status=404, expected=(200, 404))])
    )
    assert v.status == PASS and v.counts == {"requests": 2, "count": 0, "failover_excused": 0}


def failover_event(fault_at, answered_at, allowed_failed):
    return {
        "t": answered_at,
        "event": "failover",
        "step": "4.8 FAULT stop-vip-haproxy",
        "fault_at": fault_at,
        "moved_at": fault_at + 2,
        "answered_at": answered_at,
        "restored_at": answered_at,
        "allowed_s": 5.0,
        "allowed_failed": allowed_failed,
    }


def reset(sent):
    return req(sent, sent + 0.01, status=None, error="ConnectionRefusedError: 111", backend=None)


def test_a_failover_costs_its_budget_no_more():
    """Requests failing from the fault to 5 s after the VIP answered are the failover's
    cost, excused up to its budget; one more and every one of them counts, and a failure
    outside the window always does."""
    history = [req(1, 1.1), reset(20.5), reset(21.0), reset(22.4), req(30, 30.1)]
    within = RunRecord(TIMELINE, history, events=[failover_event(20.0, 22.5, 3)])
    v = failed_requests.check(within)
    assert v.status == PASS and v.counts["failover_excused"] == 3
    assert "3 in VIP failovers" in v.summary
    over = RunRecord(TIMELINE, history, events=[failover_event(20.0, 22.5, 2)])
    v = failed_requests.check(over)
    assert v.status == FAIL and v.counts["count"] == 3 and v.counts["failover_excused"] == 0
    late = RunRecord(TIMELINE, [*history, reset(28.0)], events=[failover_event(20.0, 22.5, 3)])
    v = failed_requests.check(late)  # 28.0 is past 22.5 + 5 s
    assert v.status == FAIL and v.counts["count"] == 1 and v.evidence[0]["sent"] == 28.0


def test_failed_requests_fail_and_attribute_5xx_resets_and_unexpected_4xx():
    history = [
        req(1, 1.1),
        req(11, 11.2, status=503, backend=None),
        req(12, 12.5, status=None, error="ConnectionResetError: 104", backend=None),
        req(15, 15.1, status=500, backend="controller"),
        req(16, 16.1, status=404),  # a 404 nobody expected
    ]
    v = failed_requests.check(RunRecord(TIMELINE, history))
    assert v.status == FAIL and v.counts["count"] == 4
    first, _, after, unexpected = v.evidence
    assert first["step"] == "6.10 nova-api on controller: restart" and first["status"] == 503
    assert after["backend"] == "controller" and after["backend_release"] == "2026.2"
    assert after["step"] is None and after["request_id"] == "req-15"
    assert unexpected["status"] == 404
    assert "4 of 5 requests failed" in v.summary


def test_failed_requests_without_requests_is_unknown_not_a_pass():
    assert failed_requests.check(RunRecord(TIMELINE, [])).status == UNKNOWN


def test_monotonic_version_passes_when_versions_only_rise():
    history = [req(1, 1.1, version="2.103"), req(2, 2.1, version="2.103"),
               req(3, 3.1, version="2.104", client="c2"), req(4, 4.1, version="2.104")]  # fmt: skip
    v = monotonic_version.check(RunRecord(TIMELINE, history))
    assert v.status == PASS and v.counts["violations"] == 0


def test_monotonic_version_fails_when_a_later_request_sees_a_lower_version():
    history = [
        req(15, 15.1, version="2.104", backend="controller"),
        req(16, 16.1, version="2.103", backend="compute-api", client="c2"),
        req(17, 17.1, version="2.103", backend="compute-api"),
    ]
    v = monotonic_version.check(RunRecord(TIMELINE, history))
    assert v.status == FAIL
    assert v.counts["violations"] == 2 and v.counts["per_client"] == 1
    pair = v.evidence[0]  # per-client violations come first: the sharpest evidence
    assert pair["earlier"]["max_version"] == "2.104" and pair["later"]["max_version"] == "2.103"
    assert pair["earlier"]["backend_release"] == "2026.2"
    assert pair["later"]["backend"] == "compute-api"
    assert pair["later"]["backend_release"] == "2026.1"


def test_overlapping_requests_are_not_ordered():
    # r2 was sent before r1 was received: nothing orders them, so no violation.
    history = [req(1, 3, version="2.104"), req(2, 2.5, version="2.103")]
    assert monotonic_version.check(RunRecord(TIMELINE, history)).status == PASS


def test_versions_compare_numerically_not_as_text():
    assert ledger.version_key("2.103") > ledger.version_key("2.99")
    history = [req(1, 1.1, version="2.99"), req(2, 2.1, version="2.103")]
    assert monotonic_version.check(RunRecord(TIMELINE, history)).status == PASS


def test_ledger_round_trip(tmp_path):
    path = tmp_path / "requests.jsonl"
    records = [
        req(1, 2, version="2.104"),
        Operation("w", "server-create", "id", "r", 1, 5, "ACTIVE"),
    ]
    path.write_text("\n".join(ledger.dump(r) for r in records) + "\n")
    requests, operations = ledger.read(path)
    assert requests == [records[0]] and operations == [records[1]]
    assert json.loads(path.read_text().splitlines()[0])["record"] == "request"


def test_a_ledger_written_before_volumes_reads_its_server_ids_as_resource_ids(tmp_path):
    # run folders of earlier versions are re-judged offline (harness report)
    path = tmp_path / "requests.jsonl"
    old = {"record": "operation", "client": "w", "kind": "server-create", "server_id": "s1",
           "request_id": "r", "accepted": 1, "finished": 5, "final": "ACTIVE",
           "extra": {}}  # fmt: skip
    path.write_text(json.dumps(old) + "\n")
    assert ledger.read(path)[1] == [Operation("w", "server-create", "s1", "r", 1, 5, "ACTIVE")]


def test_a_volume_operation_is_done_only_in_its_own_final_state():
    ops = [Operation("w", "volume-attach", "v1", "r1", 1, 5, "in-use"),
           Operation("w", "volume-attach", "v2", "r2", 2, 6, "available"),  # rolled back
           Operation("w", "volume-detach", "v1", "r3", 7, 9, "available")]  # fmt: skip
    verdict = rpc_end_to_end.check(RunRecord(TIMELINE, [], ops))
    assert verdict.status == FAIL and verdict.counts["lost"] == 1
    lost = verdict.evidence[0]
    assert (lost["operation"], lost["resource_id"]) == ("volume-attach", "v2")


def test_worst_verdict_wins():
    def v(status):
        return Verdict("x", status, "")

    assert worst([v(PASS), v(PASS)]) == PASS
    assert worst([v(PASS), v(UNKNOWN)]) == UNKNOWN
    assert worst([v(UNKNOWN), v(FAIL), v(PASS)]) == FAIL


def op(kind, server, accepted, final, finished=None, **extra):
    return Operation("w1", kind, server, f"req-{server}", accepted, finished, final, extra)


def test_end_to_end_passes_when_every_accepted_operation_completed():
    ops = [op("server-create", "s1", 1, "ACTIVE", 5), op("server-delete", "s1", 6, "DELETED", 8)]
    v = rpc_end_to_end.check(RunRecord(TIMELINE, operations=ops))
    assert v.status == PASS and v.counts == {"started": 2, "completed": 2, "lost": 0,
                                             "errored": 0}  # fmt: skip


def test_end_to_end_fails_on_a_create_stuck_past_the_bound_and_names_its_steps():
    ops = [op("server-create", "s1", 9, "pending"),
           op("server-create", "s1", 9, "pending", settled=True, given_up=200),
           op("server-create", "s2", 11, "ERROR", 13)]  # fmt: skip
    v = rpc_end_to_end.check(RunRecord(TIMELINE, operations=ops))
    assert v.status == FAIL and v.counts["lost"] == 2 and v.counts["errored"] == 1
    stuck = v.evidence[0]
    assert stuck["resource_id"] == "s1" and stuck["request_id"] == "req-s1"
    assert stuck["steps"] == ["6.10 nova-api on controller: restart"]
    assert stuck["accepted_during"] is None and v.evidence[1]["accepted_during"].startswith("6.10")
    # accepted a second before 6.10 began: in flight when it began
    assert stuck["began_within_1s"] == ["6.10 nova-api on controller: restart"]
    assert v.evidence[1]["began_within_1s"] == []  # nothing began after it


def test_end_to_end_takes_the_settled_outcome_over_the_loads_pending_one():
    ops = [op("server-delete", "s1", 9, "pending"),
           op("server-delete", "s1", 9, "DELETED", 30, settled=True)]  # fmt: skip
    assert rpc_end_to_end.check(RunRecord(TIMELINE, operations=ops)).status == PASS


def test_end_to_end_without_operations_is_unknown():
    assert rpc_end_to_end.check(RunRecord(TIMELINE)).status == UNKNOWN


def msg(kind, role, t, request, method=None, queue="conductor", key=None, msg_id=None):
    rec = {"kind": kind, "role": role, "t": t, "request_id": request, "method": method,
           "key": key or f"{method}-{request}", "msg_id": msg_id}  # fmt: skip
    return {**rec, "queue": queue} if kind == "deliver" else {**rec, "routed_queues": [queue]}


def test_a_lost_operation_names_the_message_of_its_request_that_lost_it():
    """Joined by the request id: a create whose build cast the conductor took and nothing
    followed; a delete whose compute's call was delivered and never answered; a create whose
    every call was answered names nothing (its work was not lost on the bus)."""
    cast = "schedule_and_build_instances"
    bus = [
        msg("publish", "cast", 10.5, "req-s1", cast),
        msg("deliver", "cast", 10.6, "req-s1", cast),
        msg("publish", "call", 11.0, "req-s2", "object_action", msg_id="m2"),
        msg("deliver", "call", 11.1, "req-s2", "object_action", msg_id="m2"),
        msg("publish", "call", 2.0, "req-s3", "select_destinations", "scheduler", msg_id="m3"),
        msg("deliver", "call", 2.1, "req-s3", "select_destinations", "scheduler", msg_id="m3"),
        {"kind": "publish", "role": "reply", "t": 2.2, "msg_id": "m3", "key": "reply:m3"},
    ]
    ops = [
        op("server-create", "s1", 10.4, "pending", settled=True, given_up=200),
        op("server-delete", "s2", 10.9, "ERROR", 80),
        op("server-create", "s3", 1.9, "ERROR", 3),
    ]
    v = rpc_end_to_end.check(RunRecord(TIMELINE, operations=ops, bus=bus))
    lost = {e["resource_id"]: e["lost_message"] for e in v.evidence}
    s1 = (lost["s1"]["role"], lost["s1"]["method"], lost["s1"]["queue"])
    assert s1 == ("cast", cast, "conductor")
    assert lost["s1"]["delivered_step"].startswith("6.10 ") and lost["s1"]["answered"] is None
    assert (lost["s2"]["method"], lost["s2"]["answered"]) == ("object_action", False)
    assert lost["s3"] is None
    # a cast the conductor took while stopping, whose scheduler call it then had answered:
    # the work was back in the conductor's hands, the cast's queue is where it was lost
    bus += [
        msg("publish", "cast", 11.5, "req-s4", cast),
        msg("deliver", "cast", 11.6, "req-s4", cast),
        msg("publish", "call", 11.7, "req-s4", "select_destinations", "scheduler", msg_id="m4"),
        msg("deliver", "call", 11.7, "req-s4", "select_destinations", "scheduler", msg_id="m4"),
        {"kind": "publish", "role": "reply", "t": 11.8, "msg_id": "m4", "key": "reply:m4"},
    ]
    s4 = rpc_end_to_end.check(
        RunRecord(TIMELINE, operations=[op("server-create", "s4", 11.4, "pending")], bus=bus)
    )
    assert (s4.evidence[0]["lost_message"]["method"], s4.evidence[0]["lost_message"]["queue"]) == (
        cast,
        "conductor",
    )
    assert rpc_end_to_end.check(RunRecord(TIMELINE, operations=ops)).evidence[0][
        "lost_message"] is None  # no bus trace: nothing to join  # fmt: skip


def test_a_failed_request_names_the_call_that_lost_it_by_the_global_request_id():
    """Seen: a volume attach timed out at the client after 30 s with no answer, so no
    request id came back; nova-conductor's reserve_block_device_name call for it, which
    carries the global id the load sent, was delivered to a stopping compute and never
    answered. The join finds it; another request's answered call names nothing."""
    attach = dataclasses.replace(req(11, 41, status=None, error="ReadTimeout", backend=None),
                                 request_id=None, global_request_id="req-g1")  # fmt: skip
    slow = dataclasses.replace(req(12, 12.5, status=500), global_request_id="req-g2")
    bus = [
        {**msg("publish", "call", 11.2, "req-api", "reserve_block_device_name",
               "compute.controller", msg_id="m1"), "global_request_id": "req-g1"},
        {**msg("deliver", "call", 11.3, "req-api", "reserve_block_device_name",
               "compute.controller", msg_id="m1"), "global_request_id": "req-g1"},
        {**msg("publish", "call", 12.1, "req-x", "object_action", msg_id="m2"),
         "global_request_id": "req-g2"},
        {**msg("deliver", "call", 12.1, "req-x", "object_action", msg_id="m2"),
         "global_request_id": "req-g2"},
        {"kind": "publish", "role": "reply", "t": 12.2, "msg_id": "m2", "key": "reply:m2"},
    ]  # fmt: skip
    v = failed_requests.check(RunRecord(TIMELINE, [attach, slow], bus=bus))
    lost = v.evidence[0]["lost_message"]
    assert (lost["method"], lost["queue"], lost["answered"]) == (
        "reserve_block_device_name", "compute.controller", False)  # fmt: skip
    assert lost["in_hand"][0].startswith("6.10 ")
    assert v.evidence[1]["lost_message"] is None
    # without the trace, nothing to join
    assert failed_requests.check(RunRecord(TIMELINE, [attach])).evidence[0]["lost_message"] is None


def test_a_failover_costs_the_connections_it_left_stale_and_the_requests_in_flight():
    """Seen in a roll with a failover: a load user's kept-alive connection to the old
    holder was reset at its first use 25-45 s later, by the new holder; and a request the
    old holder took just before the VIP left it waited out its client's timeout. Both are
    the failover's; a reset on a connection opened after the move is not."""
    ev = [failover_event(20.0, 22.5, 3)]  # the VIP moved at 22.0
    stale = [
        req(10, 10.1, client="r1"),
        req(50, 50.01, status=None, error="ConnectionResetError: 104", client="r1"),
    ]
    fresh_after = [
        req(30, 30.1, client="r2"),
        req(55, 55.01, status=None, error="ConnectionResetError: 104", client="r2"),
    ]
    in_flight = [req(19.5, 49.5, status=None, error="ReadTimeout: read timeout=30", client="r3")]
    v = failed_requests.check(RunRecord(TIMELINE, stale + fresh_after + in_flight, events=ev))
    assert v.counts["failover_excused"] == 2, v.evidence
    assert [(e["client"], e["sent"]) for e in v.evidence] == [("r2", 55)]
    # a connection closed after its last use (Connection: close) is opened anew after the move
    closed = [dataclasses.replace(req(10, 10.1, client="r1"), fresh_connection=True), stale[1]]
    v = failed_requests.check(RunRecord(TIMELINE, closed, events=ev))
    assert v.counts["failover_excused"] == 0 and v.status == FAIL


def test_an_operation_a_failover_cut_off_is_its_cost_within_its_budget():
    """Seen: nova-compute set a server it was deleting to ERROR, its call to placement
    through the VIP refused while the VIP moved: that failover's cost. The same error
    outside the failover's window, or past its budget, counts."""
    cut = ("[instance: s1] Setting instance vm_state to ERROR: keystoneauth1.exceptions."
           "connection.ConnectFailure: Unable to establish connection to http://10.251.0.10:8778/"
           "allocations")  # fmt: skip
    ops = [op("server-delete", "5e4a1c2b", 20.5, "ERROR", 30)]  # its request: req-5e4a1c2b
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(21))  # as oslo.log writes it
    log = f"{stamp}.000 7 ERROR nova.compute.manager [req-5e4a1c2b u p - - -] {cut}\n"
    event = {**failover_event(20.0, 22.5, 1), "vip": "10.251.0.10"}
    record = RunRecord(TIMELINE, operations=ops, events=[event],
                       logs={"controller/nova-compute.log": log})  # fmt: skip
    v = rpc_end_to_end.check(record)
    assert v.status == PASS and v.counts["failover_excused"] == 1, v.summary
    record.events = [{**event, "allowed_failed": 0}]
    assert rpc_end_to_end.check(record).status == FAIL
    record.events = [{**event, "fault_at": 40.0, "answered_at": 41.0, "moved_at": 41.0,
                      "restored_at": 41.0}]  # fmt: skip
    assert rpc_end_to_end.check(record).status == FAIL
