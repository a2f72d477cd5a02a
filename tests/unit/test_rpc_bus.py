"""The bus ledger on crafted firehose records: parsing oslo's double-encoded ids, and the
rpc_bus oracle's classes — it must fail on lost messages and pass on clean histories."""

import json

from harness.bus import messages
from harness.checks.oracles import rpc_bus
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN


def oslo_body(**msg) -> bytes:
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(msg)}).encode()


def test_a_call_is_keyed_by_its_unique_id_and_carries_its_ttl():
    body = oslo_body(method="select_destinations", _unique_id="u1", _msg_id="m1",
                     _reply_q="reply_x", _timeout=60, args={})  # fmt: skip
    headers = {"exchange_name": b"nova", "routing_keys": [b"scheduler"],
               "routed_queues": [b"scheduler"], "properties": {"expiration": b"60000"}}  # fmt: skip
    rec = messages.trace_record("publish.nova", headers, body, 10.0)
    assert rec["key"] == "u1" and rec["role"] == "call" and rec["method"] == "select_destinations"
    assert rec["routed_queues"] == ["scheduler"] and rec["expiration_ms"] == 60000
    assert "request_id" not in rec  # no context, no request


def test_a_message_names_the_request_its_senders_context_carries():
    body = oslo_body(method="object_action", _unique_id="u2", _msg_id="m2", _reply_q="r",
                     _context_request_id="req-1f2e", _context_user="u")  # fmt: skip
    rec = messages.trace_record("publish.nova", {"exchange_name": b"nova"}, body, 1.0)
    assert rec["request_id"] == "req-1f2e"


def test_a_reply_is_keyed_by_the_calls_msg_id_not_its_own_unique_id():
    body = oslo_body(_unique_id="retry-2", _msg_id="m1", result=None, ending=True)
    rec = messages.trace_record("deliver.reply_x", {"exchange_name": ""}, body, 11.0)
    assert rec["key"] == "reply:m1" and rec["role"] == "reply" and rec["queue"] == "reply_x"


def test_non_oslo_messages_get_a_stable_key_and_the_brokers_own_are_skipped():
    a = messages.trace_record("publish.x", {"exchange_name": "x"}, b"plain", 1.0)
    b = messages.trace_record("deliver.q", {"exchange_name": "x"}, b"plain", 2.0)
    assert a["key"] == b["key"] and a["key"].startswith("body:")
    event = {"exchange_name": "amq.rabbitmq.event"}
    assert messages.trace_record("deliver.q", event, b"", 1.0) is None


def pub(key, t, exchange="nova", queues=("conductor",), method="m", ttl=None):
    rec = {"kind": "publish", "t": t, "key": key, "exchange": exchange, "method": method,
           "role": "cast", "routing_keys": [queues[0] if queues else "compute.gone"],
           "routed_queues": list(queues)}  # fmt: skip
    if ttl:
        rec["expiration_ms"] = ttl
    return rec


def deliver(key, t, queue="conductor"):
    return {"kind": "deliver", "t": t, "key": key, "exchange": "nova", "queue": queue}


def event(kind, queue, t):
    return {"kind": kind, "queue": queue, "t": t}


WINDOW = {"start": 0.0, "stop": 100.0,
          "queues_at_start": [{"name": "conductor"}, {"name": "compute.c1"},
                              {"name": "reply_a"}],
          "queues_at_stop": [{"name": "conductor", "messages": 0}]}  # fmt: skip
STEPS = Timeline([(20.0, 40.0, "6.5 nova-compute on c1: restart")], [])


def judge(records, window=WINDOW):
    return rpc_bus.check(RunRecord(STEPS, bus=records, queues=window))


def test_every_publish_delivered_passes_and_redeliveries_do_not_count_twice():
    reply = pub("r", 2, exchange="", queues=("reply_a",))
    records = [
        pub("a", 1),
        deliver("a", 1.1),
        deliver("a", 1.2),
        reply,
        deliver("r", 2.1, "reply_a"),
    ]
    v = judge(records)
    assert v.status == PASS, v.summary
    assert v.counts["delivered"] == 2 and v.counts["lost"] == 0 and v.counts["published"] == 2


def test_casts_queued_for_a_compute_whose_queue_was_deleted_are_lost():
    records = [pub("a", 25, queues=("compute.c1",), method="build_and_run_instance"),
               event(messages.QUEUE_DELETED, "compute.c1", 30),
               pub("b", 31, queues=(), method="build_and_run_instance")]  # fmt: skip
    v = judge(records)
    assert v.status == FAIL and v.counts["lost"] == 2
    first = v.evidence[0]
    assert first["queue"] == "compute.c1" and "deleted" in first["why"]
    assert first["step"] == "6.5 nova-compute on c1: restart"
    assert v.evidence[1]["why"] == "routed to no queue"


def test_a_default_exchange_publish_to_a_missing_queue_is_lost():
    v = judge([pub("r", 2, exchange="", queues=("reply_never",))])
    assert v.status == FAIL and v.evidence[0]["why"] == "published to a queue that did not exist"


def test_by_design_drops_expiries_and_edge_messages_are_not_lost():
    records = [
        pub("f", 5, exchange="scheduler_fanout", queues=()),  # nobody listening
        pub("r", 6, exchange="", queues=("reply_a",)), event(messages.QUEUE_DELETED, "reply_a", 7),
        pub("c", 10, queues=("conductor",), ttl=60_000),  # a call nobody took in 60 s
        pub("e", 98, queues=("conductor",)),  # published 2 s before tracing stopped
    ]  # fmt: skip
    v = judge(records)
    assert v.status == PASS, v.summary
    assert (v.counts["dropped"], v.counts["expired"], v.counts["pending"]) == (2, 1, 1)


def test_an_undelivered_message_on_a_live_queue_long_before_the_end_is_lost():
    v = judge([pub("x", 10, queues=("conductor",))])
    assert v.status == FAIL and v.evidence[0]["why"] == "never delivered"


def test_no_trace_is_unknown_not_a_pass():
    assert judge(None).status == UNKNOWN
    assert judge([]).status == UNKNOWN


def call(key, t, msg_id, queue="conductor", ttl=60_000):
    return {**pub(key, t, queues=(queue,), method="object_class_action_versions", ttl=ttl),
            "role": "call", "msg_id": msg_id}  # fmt: skip


def reply(msg_id, t):
    return {"kind": "publish", "t": t, "key": f"reply:{msg_id}", "exchange": "",
            "role": "reply", "routing_keys": ["reply_a"], "routed_queues": ["reply_a"]}  # fmt: skip


def test_a_call_delivered_and_never_answered_is_lost():
    records = [call("c1", 25, "m1"), deliver("c1", 25.1),  # taken by a dying conductor
               call("c2", 26, "m2"), deliver("c2", 26.1), reply("m2", 26.3),
               deliver("reply:m2", 26.4, "reply_a")]  # fmt: skip
    v = judge(records)
    assert v.status == FAIL and v.counts["lost"] == 1
    assert v.evidence[0]["why"] == "delivered, never answered"
    assert v.evidence[0]["key"] == "c1" and v.evidence[0]["step"].startswith("6.5")


def test_a_call_still_within_its_timeout_when_tracing_stopped_is_pending():
    v = judge([call("c1", 90, "m1"), deliver("c1", 90.1)])
    assert v.status == PASS and v.counts["pending"] == 1


def test_a_broker_restart_the_tracer_followed_is_counted_and_what_it_wiped_is_lost():
    # Published before the restart into a queue the restart wiped (non-durable), then the
    # queue is declared again by its consumer: the message never arrives.
    records = [pub("u1", 10.0), {"kind": "tracer-gap", "t": 11.0, "error": "closed"},
               {"kind": "tracer-resumed", "t": 15.0},
               {"kind": "queue.created", "t": 16.0, "queue": "conductor"},
               pub("u2", 17.0), deliver("u2", 17.1)]  # fmt: skip
    v = judge(records)
    assert v.status == FAIL and v.counts["tracer_gaps"] == 1
    assert [e["key"] for e in v.evidence] == ["u1"]


def test_a_long_call_unanswered_past_oslos_call_monitor_is_lost_not_pending():
    # select_destinations carries a 1800 s expiration, but its caller's call monitor gives
    # up after 60 s without a reply or heartbeat (the conductor set the build to ERROR).
    long = 1_800_000
    v = judge([call("s1", 25, "m1", queue="scheduler", ttl=long), deliver("s1", 25.1, "scheduler")])
    assert v.status == FAIL and v.evidence[0]["why"] == "delivered, never answered"
    # within the monitor's 60 s when tracing stopped (at 100): not yet lost
    v = judge([call("s2", 90, "m2", queue="scheduler", ttl=long), deliver("s2", 90.1, "scheduler")])
    assert v.status == PASS and v.counts["pending"] == 1
