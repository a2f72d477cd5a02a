#!/usr/bin/env python3
"""Benchmark: time from `harness up` to the first ACTIVE server, cold and warm, and the
peak memory (RSS summed over every process in the cloud's namespaces).

Cold: an empty venv cache and an empty uv cache (everything from PyPI).
Warm: the venv cache from the cold run. Figures are printed, never asserted.

    python bench/cloud_up.py [--scenario scenarios/nova-rolling.yaml] [--skip-cold]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rss import PeakRss  # noqa: E402  (bench/, beside this script)

from harness.backends.embedded.cloud import Cloud  # noqa: E402
from harness.scenario import load  # noqa: E402
from harness.services.nova import smoke  # noqa: E402


def one_run(label: str, scenario: Path, state_dir: Path, env: dict) -> None:
    sampler = PeakRss.of(load(scenario))
    sampler.start()
    started = time.monotonic()
    cmd = [sys.executable, "-m", "harness", "--state-dir", str(state_dir), "up", str(scenario)]
    up = subprocess.run(cmd, env=env, capture_output=True, text=True)
    up_s = time.monotonic() - started
    if up.returncode != 0:
        sys.exit(f"{label}: harness up failed:\n{up.stderr[-2000:]}")
    try:
        result = smoke.boot_and_delete(Cloud.load(state_dir))
        first_active = up_s + result.active_after
    finally:
        subprocess.run([*cmd[:-2], "down"], env=env, capture_output=True)
        peak = sampler.stop()
    print(f"{label:5} up {up_s:6.1f} s | up to first ACTIVE server {first_active:6.1f} s | "
          f"peak cloud RSS {peak:.2f} GiB")  # fmt: skip
    print(f"   peak PSS {sampler.pss_peak / 2**30:.2f} GiB (shared pages counted once)")
    print(f"   largest at the peak: {sampler.largest()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=Path("scenarios/nova-rolling.yaml"))
    p.add_argument("--skip-cold", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="uh-bench-") as tmp:
        state = Path("/var/lib/upgrade-harness-bench")
        env = dict(os.environ, HARNESS_CACHE_DIR=str(Path(tmp) / "cache"))
        if args.skip_cold:
            env.pop("HARNESS_CACHE_DIR")
        else:
            one_run("cold", args.scenario, state, dict(env, UV_CACHE_DIR=str(Path(tmp) / "uv")))
        one_run("warm", args.scenario, state, env)


if __name__ == "__main__":
    main()
