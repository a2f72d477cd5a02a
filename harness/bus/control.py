"""Tracing the bus for a run: start the tracer, switch the firehose on; at the end switch it
off, let the tracer drain, and keep queue snapshots from both edges (bus/queues.json).

The broker is the cloud's (`cloud.broker()`): the embedded RabbitMQ through rabbitmqctl in
the controller namespace, or devstack's through rabbitmqctl on the controller node."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness import process, wait
from harness.errors import StepFailed


class Broker(Protocol):
    def credentials(self) -> dict:
        """host, port, user, password: what the tracer connects with."""

    def ctl(self, *args: str) -> str:
        """rabbitmqctl's output; raises when it fails."""


@dataclass
class Trace:
    broker: Broker
    proc: subprocess.Popen
    out: Path
    stop_file: Path
    config: Path
    window: dict  # {"start": epoch, "stop": epoch}, and the queue snapshots

    def stop(self, timeout: float = 60) -> int:
        """Firehose off first, then the tracer drains what was already traced and exits."""
        try:
            set_tracing(self.broker, False)
        finally:
            self.window["stop"] = time.time()
            self.stop_file.touch()
            try:
                status = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                status = self.proc.wait()
            self.config.unlink(missing_ok=True)  # it holds a password
            for marker in (self.stop_file, self.out.parent / "ready"):
                marker.unlink(missing_ok=True)
        self.window["queues_at_stop"] = _snapshot(self.broker)
        (self.out.parent / "queues.json").write_text(json.dumps(self.window, indent=1))
        return status


def start(cloud, run_dir: Path, timeout: float = 30) -> Trace:
    broker = cloud.broker()
    bus_dir = run_dir / "bus"
    bus_dir.mkdir(parents=True, exist_ok=True)
    out, stop_file, ready = bus_dir / "trace.jsonl", bus_dir / "stop", bus_dir / "ready"
    for f in (stop_file, ready):
        f.unlink(missing_ok=True)
    settings = {
        **broker.credentials(), "out": str(out), "stop_file": str(stop_file),
        "ready_file": str(ready), "bridge": cloud.bridge,
    }  # fmt: skip
    config = cloud.state_dir / "tracer.json"
    proc = process.start_helper("harness.bus.tracer", settings, config, bus_dir / "tracer.log")

    def started() -> bool:
        if proc.poll() is not None:
            raise StepFailed(f"the bus tracer exited {proc.returncode}")
        return ready.exists()

    try:
        wait.until(started, timeout, "the bus tracer's start", interval=0.1)
    except StepFailed:
        proc.kill()
        proc.wait()
        config.unlink(missing_ok=True)
        raise StepFailed(f"the bus tracer did not start; see {bus_dir / 'tracer.log'}") from None
    # The snapshot comes before the firehose: a queue that exists now and is deleted later
    # shows up in the events; one created later too.
    window = {"queues_at_start": _snapshot(broker)}
    set_tracing(broker, True)
    window["start"] = time.time()
    return Trace(broker, proc, out, stop_file, config, window)


def set_tracing(broker: Broker, on: bool) -> None:
    """The firehose: copies of every publish and delivery on `amq.rabbitmq.trace`."""
    broker.ctl("trace_on" if on else "trace_off")


def queues(broker: Broker) -> list[dict]:
    """Every queue now: name, messages ready + unacked, consumers."""
    out = broker.ctl("list_queues", "name", "messages", "consumers", "--formatter", "json",
                     "--quiet")  # fmt: skip
    return json.loads(out or "[]")


def _snapshot(broker: Broker) -> list[dict]:
    return [q for q in queues(broker) if not q["name"].startswith("amq.gen-")]
