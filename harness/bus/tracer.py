"""The bus tracer: `python -m harness.bus.tracer CONFIG.json`. Consumes RabbitMQ's firehose
(`amq.rabbitmq.trace`) and queue events (`amq.rabbitmq.event`) and writes one JSON line per
publish, delivery and queue created or deleted. Its own deliveries are not traced.

It stops when the stop file appears, on SIGTERM, when its parent dies or the cloud's bridge
goes away; before exiting it drains what the broker already pushed, so records published
before tracing was switched off are not cut (pitfall 5 of RPC-LEDGER.md).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pika

from harness.bus import messages

QUIET = 1.0  # seconds without a record that end the drain
DEPTH_EVERY = 5.0  # how often to sample our own queue's backlog (pitfall 4)


class Tracer:
    def __init__(self, config: dict):
        self.config = config
        self.out = open(config["out"], "a", buffering=1)  # noqa: SIM115 (open for the run)
        self.records = 0
        self.last = time.monotonic()
        self.max_depth = 0
        creds = pika.PlainCredentials(config["user"], config["password"])
        self.params = pika.ConnectionParameters(config["host"], config["port"], "/", creds,
                                                heartbeat=30)  # fmt: skip
        self.connect()

    def connect(self) -> None:
        self.conn = pika.BlockingConnection(self.params)
        self.channel = self.conn.channel()
        self.trace_q = self._bind("amq.rabbitmq.trace", "#", self.on_trace)
        self.event_q = self._bind("amq.rabbitmq.event", "queue.*", self.on_event)

    def reconnect(self, error: Exception, keep_going) -> bool:
        """The broker went away (a restart): say so in the trace, and follow it back, so
        what is lost across the restart shows in the ledger instead of a dead tracer."""
        self.write({"kind": "tracer-gap", "t": time.time(), "error": repr(error)})
        while keep_going():
            try:
                self.connect()
            except pika.exceptions.AMQPError:
                time.sleep(0.5)
                continue
            self.write({"kind": "tracer-resumed", "t": time.time()})
            return True
        return False

    def _bind(self, exchange: str, pattern: str, callback) -> str:
        # Exclusive and server-named: the queue dies with this connection. Unbounded, and
        # watched (max_depth): a bounded one would drop records and cry wolf.
        queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(queue, exchange, pattern)
        self.channel.basic_consume(queue, callback, auto_ack=True)
        return queue

    def write(self, rec: dict) -> None:
        self.out.write(json.dumps(rec, sort_keys=True) + "\n")
        self.records += 1
        self.last = time.monotonic()

    def on_trace(self, _ch, method, props, body) -> None:
        rec = messages.trace_record(method.routing_key, props.headers or {}, body, time.time())
        if rec is not None:
            self.write(rec)

    def on_event(self, _ch, method, props, _body) -> None:
        rec = messages.event_record(method.routing_key, props.headers or {}, time.time())
        if rec["queue"] not in (self.trace_q, self.event_q):
            self.write(rec)

    def sample_depth(self) -> None:
        depth = self.channel.queue_declare(self.trace_q, passive=True).method.message_count
        self.max_depth = max(self.max_depth, depth)

    def run(self, keep_going) -> None:
        Path(self.config["ready_file"]).touch()
        next_sample = time.monotonic() + DEPTH_EVERY
        while keep_going():
            try:
                self.conn.process_data_events(time_limit=0.2)
                if time.monotonic() >= next_sample:
                    self.sample_depth()
                    next_sample = time.monotonic() + DEPTH_EVERY
            except pika.exceptions.AMQPError as e:
                if not self.reconnect(e, keep_going):
                    self.out.close()
                    return
        self.last = time.monotonic()
        while time.monotonic() - self.last < QUIET:
            self.conn.process_data_events(time_limit=0.2)
        self.sample_depth()
        stats = {"kind": "tracer-stats", "records": self.records, "max_depth": self.max_depth,
                 "t": time.time()}  # fmt: skip
        self.out.write(json.dumps(stats) + "\n")
        self.out.close()
        self.conn.close()


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    stop_file = Path(config["stop_file"])
    # A devstack broker is on the gate's network, not behind a bridge of ours.
    bridge = Path("/sys/class/net") / config["bridge"] if config["bridge"] else None
    parent = os.getppid()
    tracer = Tracer(config)
    tracer.run(
        lambda: (
            not stopping
            and not stop_file.exists()
            and os.getppid() == parent
            and (bridge is None or bridge.exists())
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
