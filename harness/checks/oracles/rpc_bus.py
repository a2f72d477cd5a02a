"""Oracle 3a, the bus ledger: every message published on RabbitMQ while the firehose was on
is matched, by oslo.messaging's message id, with a delivery on every queue it was routed to.

Each (message, queue) pair ends in one class:
- delivered: at least one delivery on that queue (redeliveries add more, never less) and,
  for a call, a reply published for it;
- pending: not delivered yet when tracing stopped, on a queue that still existed then, and
  either published in the last EDGE seconds or still sitting in that queue;
- expired: a message with a TTL (oslo's calls carry their timeout) not consumed within it;
- dropped: its queue went away with it, and the queue belonged to one process by design —
  a reply queue or a fanout queue — or a fanout published when no one listened;
- lost: everything else — routed nowhere (a cast to a topic with no queue), never
  delivered on a queue that existed (deleted with it, or vanished), or a call delivered
  and never answered.
Only `lost` fails the run; the other classes are counted and reported.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

from harness.bus.messages import DELIVER, PUBLISH, QUEUE_CREATED, QUEUE_DELETED
from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict

NAME = "rpc_bus"
UNIT = "messages"  # what one piece of its evidence is
EDGE = 5.0
CLASSES = ("delivered", "pending", "expired", "dropped", "lost")
MONITOR_MS = 60_000  # oslo.messaging's rpc_response_timeout, the call monitor's bound


@dataclass(frozen=True)
class Fate:
    cls: str
    why: str
    publish: dict
    queue: str | None


class Queues:
    """When each queue existed: the snapshot at the start, then created/deleted events."""

    def __init__(self, records: list[dict], window: dict):
        self.events = defaultdict(list)  # name → [(t, kind)]
        for r in records:
            if r["kind"] in (QUEUE_CREATED, QUEUE_DELETED):
                self.events[r["queue"]].append((r["t"], r["kind"]))
        self.at_start = {q["name"] for q in window.get("queues_at_start", [])}
        self.at_stop = {q["name"]: q for q in window.get("queues_at_stop", [])}

    def existed(self, queue: str, t: float) -> bool:
        events = sorted(self.events.get(queue, []))
        i = bisect.bisect_right(events, (t, "~"))
        if i > 0:
            return events[i - 1][1] == QUEUE_CREATED
        if events:  # first event after t: a deletion means it existed before
            return events[0][1] == QUEUE_DELETED
        return queue in self.at_start or queue in self.at_stop

    def deleted_after(self, queue: str, t: float) -> float | None:
        later = [et for et, kind in self.events.get(queue, []) if kind == QUEUE_DELETED and et > t]
        return min(later) if later else None

    def waiting_at_stop(self, queue: str) -> int:
        return int(self.at_stop.get(queue, {}).get("messages", 0))


def owned_by_one_process(queue: str) -> bool:
    # oslo.messaging: reply_<uuid> per RPC client, <topic>_fanout_<uuid> per server.
    return queue.startswith("reply_") or "_fanout_" in queue


def fates(records: list[dict], window: dict) -> list[Fate]:
    queues = Queues(records, window)
    stop = window.get("stop") or max((r["t"] for r in records), default=0.0)
    delivered = {(r["key"], r["queue"]) for r in records if r["kind"] == DELIVER}
    replied = {r["key"] for r in records if r["kind"] == PUBLISH and r.get("role") == "reply"}
    out = []
    for p in sorted((r for r in records if r["kind"] == PUBLISH), key=lambda r: r["t"]):
        targets = list(p.get("routed_queues") or [])
        if not targets:
            out.append(_unroutable(p))
            continue
        for q in targets:
            if (p["key"], q) in delivered:
                out.append(_answered(p, q, replied, stop))
            elif p["exchange"] == "" and not queues.existed(q, p["t"]):
                # The default exchange reports the routing key as routed whether or not
                # such a queue exists.
                out.append(Fate("lost", "published to a queue that did not exist", p, q))
            else:
                out.append(_undelivered(p, q, queues, stop))
    return out


def _answered(p: dict, q: str, replied: set[str], stop: float) -> Fate:
    """A delivered call must be answered: every oslo call gets a reply, a result or an
    error. One taken off its queue and never answered was dropped by the process that took
    it (oslo acks on arrival), and its caller timed out."""
    if p.get("role") != "call" or not p.get("msg_id") or f"reply:{p['msg_id']}" in replied:
        return Fate("delivered", "", p, q)
    # The caller gives up after its expiration, or sooner: a long call (nova's
    # select_destinations, 1800 s) is watched by oslo's call monitor, which times out when
    # no reply or heartbeat came for rpc_response_timeout (60 s; seen: the conductor set
    # an instance to ERROR 60 s after the stopping scheduler took its call).
    if p["t"] + caller_waits(p) > stop:
        return Fate("pending", "delivered, not answered yet when tracing stopped", p, q)
    return Fate("lost", "delivered, never answered", p, q)


def caller_waits(call: dict) -> float:
    """Seconds a call's caller waits for the reply: its expiration, or less — oslo's call
    monitor gives up after rpc_response_timeout without a reply or heartbeat."""
    return min(call.get("expiration_ms") or MONITOR_MS, MONITOR_MS) / 1000


def _unroutable(p: dict) -> Fate:
    if p["exchange"].endswith("_fanout"):
        return Fate("dropped", "fanout with no queue bound", p, None)
    return Fate("lost", "routed to no queue", p, None)


def _undelivered(p: dict, q: str, queues: Queues, stop: float) -> Fate:
    gone = queues.deleted_after(q, p["t"])
    if gone is not None:
        if owned_by_one_process(q):
            return Fate("dropped", f"queue deleted {gone - p['t']:.1f} s later", p, q)
        return Fate("lost", f"queue deleted {gone - p['t']:.1f} s later, undelivered", p, q)
    ttl = p.get("expiration_ms")
    if ttl is not None and p["t"] + ttl / 1000 <= stop:
        return Fate("expired", f"not consumed within its {ttl / 1000:g} s TTL", p, q)
    if p["t"] >= stop - EDGE or queues.waiting_at_stop(q):
        return Fate("pending", "still queued when tracing stopped", p, q)
    return Fate("lost", "never delivered", p, q)


def check(record: RunRecord) -> Verdict:
    if record.bus is None:
        return Verdict(NAME, UNKNOWN, "the bus was not traced", {"published": 0})
    all_fates = fates(record.bus, record.queues or {})
    counts = {c: sum(f.cls == c for f in all_fates) for c in CLASSES}
    counts["published"] = sum(r["kind"] == PUBLISH for r in record.bus)
    counts["deliveries"] = sum(r["kind"] == DELIVER for r in record.bus)
    stats = [r for r in record.bus if r["kind"] == "tracer-stats"]
    if stats:
        counts["tracer_max_depth"] = stats[-1]["max_depth"]
    # The tracer follows a broker restart back (bus/tracer.py); what was queued across it
    # is judged like any other message, and the count says the broker went away.
    gaps = sum(r["kind"] == "tracer-gap" for r in record.bus)
    if gaps:
        counts["tracer_gaps"] = gaps
    if counts["published"] == 0:
        return Verdict(NAME, UNKNOWN, "no message was traced", counts)
    lost = [f for f in all_fates if f.cls == "lost"]
    others = ", ".join(f"{counts[c]} {c}" for c in CLASSES[1:4] if counts[c])
    if not lost:
        summary = f"{counts['published']} messages published, none lost" + (
            f" ({others})" if others else ""
        )
        return Verdict(NAME, PASS, summary, counts)
    evidence = [_evidence(f, record) for f in lost]
    first = evidence[0]
    summary = (
        f"{len(lost)} of {counts['published']} messages lost; first: {first['method']} "
        f"to {first['queue'] or first['routing_key']} ({first['why']}) during "
        f"{first['step'] or 'no step'}"
    )
    return Verdict(NAME, FAIL, summary, counts, evidence)


def _evidence(f: Fate, record: RunRecord) -> dict:
    """One lost message. A call delivered and never answered also names the steps that ran
    while it was in its consumer's hands, until its caller gave up ("in_hand"): a step that
    stopped the consumer in that time is what lost it."""
    p = f.publish
    held = []
    if f.why == "delivered, never answered":
        held = record.timeline.steps_between(p["t"], p["t"] + caller_waits(p))
    return {
        "t": p["t"], "why": f.why, "exchange": p["exchange"],
        "routing_key": (p.get("routing_keys") or [""])[0], "queue": f.queue,
        "method": p.get("method") or p.get("role") or "?", "role": p.get("role"),
        "key": p["key"], "step": record.timeline.step_at(p["t"]), "in_hand": held,
    }  # fmt: skip
