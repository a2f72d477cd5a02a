"""The load worker stops by itself when the cloud's bridge is gone: its requests to the VIP
must never outlive the cloud. (Its only target here is loopback.)"""

import json
import subprocess
import sys
import time

from harness.services import ORDER


def config(tmp_path, bridge: str) -> dict:
    return {
        "vip": "127.0.0.1", "bridge": bridge,
        "endpoints": {s.project: "http://127.0.0.1:9" for s in ORDER if s.api},
        "apis": {s.project: s.api.name for s in ORDER if s.api},
        "username": "admin", "project": "admin",
        "password": "not-a-secret", "image": "i", "flavor": "f",
        "users": ["VersionClient"], "user_count": 1, "spawn_rate": 1, "timeout": 2,
        "think_time": [0.1, 0.2],
        "operation_timeout": 5, "microversion": "latest",
        "ledger": str(tmp_path / "requests.jsonl"), "stop_file": str(tmp_path / "stop"),
        "max_seconds": 60,
    }  # fmt: skip


def run_worker(tmp_path, cfg) -> tuple[int, float]:
    path = tmp_path / "load.json"
    path.write_text(json.dumps(cfg))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "harness.load.worker", str(path)],
                          capture_output=True, timeout=90)  # fmt: skip
    return done.returncode, time.monotonic() - started


def test_the_worker_stops_at_once_without_the_clouds_bridge(tmp_path):
    status, took = run_worker(tmp_path, config(tmp_path, "uh-no-such-bridge"))
    assert status == 0
    assert took < 30  # far below max_seconds (60): it did not run to its bound


def test_the_worker_runs_while_the_bridge_exists_and_stops_on_the_stop_file(tmp_path):
    # `lo` always exists: the worker must keep going until told to stop.
    cfg = config(tmp_path, "lo")
    path = tmp_path / "load.json"
    path.write_text(json.dumps(cfg))
    worker = subprocess.Popen([sys.executable, "-m", "harness.load.worker", str(path)])
    ledger = tmp_path / "requests.jsonl"
    # Until it has recorded a version request (importing locust takes seconds on a busy machine),
    # bounded: a worker that records nothing fails below.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        if ledger.exists() and '"name": "nova GET /"' in ledger.read_text():
            break
        time.sleep(0.5)
    assert worker.poll() is None
    (tmp_path / "stop").touch()
    assert worker.wait(timeout=30) == 0
    lines = (tmp_path / "requests.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["record"] == "request" for line in lines)
    assert {json.loads(line)["api"] for line in lines} == {"nova-api"}  # tagged by the load
    # locust's own CSVs beside the ledger, flushed when the worker stopped
    stats = (tmp_path / "locust_stats.csv").read_text().splitlines()
    assert stats[0].startswith("Type,Name") and any("nova GET /" in row for row in stats[1:])
