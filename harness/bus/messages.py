"""One trace message from RabbitMQ → one flat record. Pure functions, no AMQP here.

The firehose (`rabbitmqctl trace_on`) copies every publish to `amq.rabbitmq.trace` with
routing key `publish.<exchange>` and every delivery with `deliver.<queue>`; the event
exchange plugin announces `queue.created` / `queue.deleted`. oslo.messaging puts its ids
only in the body, JSON inside JSON: {"oslo.version": "2.0", "oslo.message": "<JSON>"}; the sender's
context rides along as `_context_*` keys, so each message names its request (`req-…`),
which is what the services' log lines name too.
"""

from __future__ import annotations

import hashlib
import json

PUBLISH, DELIVER = "publish", "deliver"
QUEUE_CREATED, QUEUE_DELETED = "queue.created", "queue.deleted"


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def oslo_fields(body: bytes) -> dict:
    """The ids and kind of an oslo.messaging message; {} for anything else."""
    try:
        outer = json.loads(body)
        inner = outer["oslo.message"]
        msg = json.loads(inner) if isinstance(inner, str) else inner
    except (ValueError, KeyError, TypeError):
        return {}
    if not isinstance(msg, dict):
        return {}
    fields = {"unique_id": msg.get("_unique_id"), "msg_id": msg.get("_msg_id"),
              # oslo's context travels as _context_* keys: the request that caused it
              "request_id": msg.get("_context_request_id"),
              # the caller's own id for it (the load sends one with every request)
              "global_request_id": msg.get("_context_global_request_id")}  # fmt: skip
    if "method" in msg:
        fields["method"] = msg["method"]
        fields["role"] = "call" if msg.get("_reply_q") else "cast"
    elif "event_type" in msg:
        fields["method"] = msg["event_type"]
        fields["role"] = "notification"
    elif "ending" in msg or "result" in msg or "failure" in msg:
        fields["role"] = "reply"
    else:
        fields["role"] = "other"
    return fields


def key(fields: dict) -> str | None:
    """What one message is known by. Replies are retried with a new _unique_id but keep
    _msg_id, and a call and its reply share _msg_id: hence the prefix."""
    if fields.get("role") == "reply" and fields.get("msg_id"):
        return f"reply:{fields['msg_id']}"
    return fields.get("unique_id")


def trace_record(routing_key: str, headers: dict, body: bytes, t: float) -> dict | None:
    """A firehose message → {t, kind, exchange, queue | routed_queues, key, ...}; None for
    the broker's own exchanges (the tracer's event queue is traced as a delivery)."""
    kind, _, target = routing_key.partition(".")
    if _text(headers.get("exchange_name", "")).startswith("amq.rabbitmq."):
        return None
    props = headers.get("properties") or {}
    fields = oslo_fields(body)
    rec = {
        "t": round(t, 6),
        "kind": kind,
        "exchange": _text(headers.get("exchange_name", "")),
        "routing_keys": [_text(k) for k in headers.get("routing_keys") or []],
        "connection": _text(headers.get("connection", "")),
        "key": key(fields) or _fallback_key(props, body),
        **{k: v for k, v in fields.items() if v is not None},
    }
    if props.get("expiration"):
        rec["expiration_ms"] = int(_text(props["expiration"]))
    if kind == PUBLISH:
        rec["routed_queues"] = [_text(q) for q in headers.get("routed_queues") or []]
    else:
        rec["queue"] = target
        rec["redelivered"] = bool(headers.get("redelivered"))
    return rec


def _fallback_key(props: dict, body: bytes) -> str:
    """Not an oslo message: the AMQP message id, else the body's hash."""
    if props.get("message_id"):
        return f"amqp:{_text(props['message_id'])}"
    return f"body:{hashlib.sha1(body).hexdigest()}"


def event_record(routing_key: str, headers: dict, t: float) -> dict:
    """An event-exchange message (queue.created / queue.deleted) → {t, kind, queue}."""
    return {"t": round(t, 6), "kind": routing_key, "queue": _text(headers.get("name", ""))}
