"""Watching a cloud while something happens to it: the bus trace and the load start
before, and after it the load stops, the operations it left pending are settled, and the
trace stops — in that order, each guarded, so what was recorded can always be judged. The
probes (harness/probe) ask every backend directly for as long as the load runs.
`harness run` watches its roll this way; the end-to-end tests and benchmarks watch faults.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from harness.backends import CloudView, Releases, openstack_api
from harness.backends.embedded.backend import releases_now
from harness.bus import control as bus
from harness.load import control, settle
from harness.plan.events import EventLog
from harness.probe import control as probes
from harness.progress import log
from harness.services.nova import smoke


class Watch:
    def __init__(self, cloud: CloudView, run_dir: Path, events: EventLog, trace_bus: bool = True,
                 releases: Callable[[], Releases] | None = None):  # fmt: skip
        """`releases` asks the nodes what each process runs (the run's backend); by default
        the embedded cloud's processes are asked."""
        self.cloud, self.run_dir, self.events = cloud, run_dir, events
        self.trace_bus = trace_bus
        self.releases = releases or (lambda: releases_now(cloud))
        self.trace: bus.Trace | None = None
        self.load: control.Load | None = None
        self.probes: probes.Probes | None = None
        self.settled: dict = {}
        self.tempest = None  # the run's tempest runner (harness/tempest), when it has one

    def start(self) -> None:
        if self.trace_bus:
            self.trace = bus.start(self.cloud, self.run_dir)
            self.events.write("trace-started")
        self.probes = probes.start(self.cloud, self.run_dir)
        if self.probes:
            self.events.write("probes-started")
        conn = openstack_api.admin(self.cloud)
        image, flavor = smoke.ensure_image_and_flavor(conn)
        agents = any(n.has("network") for n in self.cloud.scenario.nodes)
        network = smoke.ensure_load_network(conn) if agents else None
        self.load = control.start(self.cloud, self.run_dir, image, flavor, network=network)
        self.events.write("load-started")

    @contextlib.contextmanager
    def step(self, step_id: str, description: str):
        """Mark a stretch of time (a fault, say) so the oracles attribute what happens in it."""
        self.note_releases()
        self.events.write("step-start", id=step_id, description=description)
        try:
            yield
        finally:
            self.events.write("step-end", id=step_id, status="ok")
            self.note_releases()

    def note_releases(self) -> None:
        """Record what every process runs now, for attributing what happens next."""
        self.events.write("releases", releases=self.releases())

    def finish(self, settle_bound: float = 120) -> None:
        if self.tempest is not None:  # a run the roll's end (or a Ctrl-C) cut short
            self.tempest.stop_during()
            self.tempest.close()
        if self.load is not None:
            status = self.load.stop()
            self.events.write("load-stopped", exit_status=status)
            log.info("load stopped (worker exit %d); ledger %s", status, self.load.ledger)
            self.settled = self._settle(settle_bound)
        if self.probes is not None:
            self.events.write("probes-stopped", exit_status=self.probes.stop())
        if self.trace is not None:
            try:
                status = self.trace.stop()
                self.events.write("trace-stopped", exit_status=status)
            except Exception as e:  # no trace file → the bus oracle says "unknown"
                log.warning("stopping the bus trace failed: %s", e)

    def _settle(self, bound: float) -> dict:
        started = time.time()
        try:
            done = settle.settle(self.cloud, self.load.ledger, bound)
        except Exception as e:  # judged anyway: the ledger says what stayed pending
            log.warning("settling the load's operations failed: %s", e)
            return {"error": str(e)}
        self.events.write("settled", duration=round(time.time() - started, 3), **done)
        return done
