"""Starting and stopping the load worker from the harness (which never imports locust)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import process, wait
from harness.backends import CloudView
from harness.errors import StepFailed
from harness.services import ORDER


@dataclass
class Load:
    proc: subprocess.Popen
    ledger: Path
    stop_file: Path
    config: Path

    def stop(self, timeout: float = 120) -> int:
        """Ask the worker to stop (users finish the task in hand) and wait for it."""
        return process.stop_helper(self.proc, self.stop_file, timeout, self.config)  # a password


def start(cloud: CloudView, run_dir: Path, image: str, flavor: str, max_seconds: float = 3600,
          microversion: str = "latest", network: str | None = None) -> Load:  # fmt: skip
    """The scenario's load (`load:`, scenario.LoadOptions) in its own process."""
    opts = cloud.scenario.load
    load_dir = run_dir / "load"
    load_dir.mkdir(parents=True, exist_ok=True)
    ledger, stop_file = load_dir / "requests.jsonl", load_dir / "stop"
    stop_file.unlink(missing_ok=True)
    settings = {
        "vip": cloud.vip, "bridge": cloud.bridge,
        "endpoints": {svc.project: cloud.endpoint(svc.project) for svc in ORDER if svc.api},
        "apis": {svc.project: svc.api.name for svc in ORDER if svc.api},
        "username": "admin", "project": "admin",
        "password": cloud.secrets.get("user-admin"), "image": image, "flavor": flavor,
        "network": network,  # the servers' network; None: "networks": "none" (no agents)
        "users": list(opts.user_classes), "user_count": opts.users, "spawn_rate": opts.users,
        "think_time": list(opts.think_time), "timeout": opts.request_timeout,
        "operation_timeout": opts.operation_timeout, "microversion": microversion,
        "ledger": str(ledger), "stop_file": str(stop_file), "max_seconds": max_seconds,
    }  # fmt: skip
    config = cloud.state_dir / "load.json"
    proc = process.start_helper("harness.load.worker", settings, config, load_dir / "worker.log")
    _wait_first_request(proc, ledger)
    return Load(proc, ledger, stop_file, config)


def _wait_first_request(proc: subprocess.Popen, ledger: Path, timeout: float = 60) -> None:
    def sent() -> bool:
        if proc.poll() is not None:
            raise StepFailed(f"the load worker exited {proc.returncode}; see {ledger.parent}")
        return ledger.exists() and ledger.stat().st_size > 0

    try:
        wait.until(sent, timeout, "the load worker's first request", interval=0.2)
    except StepFailed:
        if proc.poll() is None:
            proc.kill()
        raise
