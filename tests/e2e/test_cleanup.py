"""A Ctrl-C during `up` and a failed `up` leave nothing behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import yaml

from harness.scenario import read

from .conftest import SCENARIO, footprint, harness


def _started(state_dir, name: str) -> bool:
    try:
        record = json.loads((state_dir / "cloud.json").read_text())
    except (OSError, ValueError):
        return False
    return any(p["name"] == name for p in record["processes"])


def test_ctrl_c_during_up_stops_everything(state_dir):
    assert footprint(state_dir).empty()
    cmd = [sys.executable, "-m", "harness", "--state-dir", str(state_dir), "up", str(SCENARIO)]
    up = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not _started(state_dir, "keystone-api") and time.monotonic() < deadline:
        assert up.poll() is None, up.stderr.read()
        time.sleep(0.2)
    assert not footprint(state_dir).empty()  # things are running: the test means something
    up.send_signal(signal.SIGINT)
    _, err = up.communicate(timeout=300)
    assert up.returncode == 130, err
    assert "interrupted" in err
    after = footprint(state_dir)
    assert after.empty(), after


def test_a_failed_up_stops_everything_it_started(state_dir, tmp_path):
    data = read(SCENARIO, sources=False)[0]  # what it extends merged in
    data["services"]["startup_timeout"] = 0.5  # no API answers that fast
    scenario = tmp_path / "impatient.yaml"
    scenario.write_text(yaml.safe_dump(data))
    done = harness(state_dir, "up", str(scenario))
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("harness: failed: keystone-api on ") and "did not happen" in last
    after = footprint(state_dir, scenario)
    assert after.empty(), after
    assert not (state_dir / "cloud.json").exists()
