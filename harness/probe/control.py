"""Starting and stopping the probe worker from the harness, and reading what it wrote."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import process
from harness.backends import CloudView
from harness.probe.ledger import LEDGER, VIP_API, VIP_NODE
from harness.services import BY_NAME, ORDER

CONNECT_INTERVAL = 0.1  # s: five connects in a 0.5 s outage
HTTP_INTERVAL = 1.0  # s: an API answers about as many probes as HAProxy's checks
STALL_S = 10.0  # s: HAProxy's `timeout check` (embedded/infra/haproxy.py): what an API may take
CONNECT_TIMEOUT = 1.0  # s: a SYN unanswered this long is an outage (the kernel answers at once)
ALIVE_INTERVAL = 0.1  # s: a probe starts within 0.1 s of a stop; a 0.5 s stop outlasts its bound
# s: a server process this slow to send its stats has stopped. Measured in a clean default
# roll (tempest on, 2 cores): 35,872 reads of 10 backends, median 5.8 ms, slowest 43 ms
ALIVE_TIMEOUT = 0.25


@dataclass
class Probes:
    proc: subprocess.Popen
    ledger: Path
    stop_file: Path
    config: Path

    def stop(self, timeout: float = STALL_S + 10) -> int:
        return process.stop_helper(self.proc, self.stop_file, timeout, self.config)


def backends(cloud: CloudView) -> list[dict]:
    """Every API on every node that serves it, at the node's own address; and the VIP
    itself (whichever HAProxy holds it), through keystone's frontend."""
    apis = [
        {"api": svc.api.name, "node": node.name, "address": node.address,
         "port": svc.api.port, "path": svc.api.health_path, "stats_port": svc.api.stats_port}
        for svc in ORDER if svc.api
        for node in cloud.scenario.serving(svc.api.name)
    ]  # fmt: skip
    keystone = BY_NAME["keystone"].api
    vip = {"api": VIP_API, "node": VIP_NODE, "address": cloud.vip, "port": keystone.port,
           "path": keystone.health_path, "stats_port": None}  # fmt: skip
    return [*apis, vip]


def start(cloud: CloudView, run_dir: Path, max_seconds: float = 3600) -> Probes | None:
    """None when the backends are not on our own bridge (a devstack gate's nodes): probing
    them is the gate's business, and their addresses may not be on this machine."""
    if cloud.bridge is None:
        return None
    ledger = run_dir / LEDGER
    ledger.parent.mkdir(parents=True, exist_ok=True)
    stop_file = ledger.parent / "stop"
    stop_file.unlink(missing_ok=True)
    settings = {
        "backends": backends(cloud), "bridge": cloud.bridge, "ledger": str(ledger),
        "stop_file": str(stop_file), "max_seconds": max_seconds, "tick_s": 5.0,
        "connect_interval": CONNECT_INTERVAL, "http_interval": HTTP_INTERVAL,
        "stall_s": STALL_S, "connect_timeout": CONNECT_TIMEOUT,
        "alive_interval": ALIVE_INTERVAL, "alive_timeout": ALIVE_TIMEOUT,
    }  # fmt: skip
    config = cloud.state_dir / "probes.json"
    proc = process.start_helper("harness.probe.worker", settings, config,
                                ledger.parent / "worker.log")  # fmt: skip
    return Probes(proc, ledger, stop_file, config)
