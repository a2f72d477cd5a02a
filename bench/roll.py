#!/usr/bin/env python3
"""Benchmark: time to verdict of `harness run` (cold and warm cache), the time spent in
each kind of step (install, DB sync, restarts, drains, migrations) and the cloud's peak
memory over the whole run (RSS summed over every process in its namespaces).

Cold: empty venv and uv caches (both releases from PyPI). Warm: the caches of the cold
run. Figures are printed, never asserted.

    python bench/roll.py [--scenario scenarios/nova-rolling.yaml] [--skip-cold] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rss import PeakRss  # noqa: E402  (bench/, beside this script)

from harness.scenario import load  # noqa: E402

CATEGORIES = {
    "install": "install",
    "drain": "drains",
    "admit": "drains",
    "restart": "restarts",
    "signal": "restarts",
    "setoption": "config",
}


def category(step: dict) -> str:
    if step["kind"] == "manage":
        after_roll = "online_data_migrations" in step["name"] or "upgrade check" in step["name"]
        return "migrations" if after_roll else "DB sync"
    return CATEGORIES.get(step["kind"], step["kind"])


def one_run(label: str, scenario: Path, seed: int, env: dict, workdir: Path) -> None:
    report = workdir / f"report-{label}"
    state = Path("/var/lib/upgrade-harness-bench")
    cmd = [sys.executable, "-m", "harness", "--state-dir", str(state), "run", str(scenario),
           "--seed", str(seed), "--report-dir", str(report)]  # fmt: skip
    sampler = PeakRss.of(load(scenario))
    sampler.start()
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    peak = sampler.stop()
    summary = json.loads((report / "results.json").read_text())
    events = [json.loads(line) for line in (report / "events.jsonl").read_text().splitlines()]
    phases = {e["phase"]: e.get("duration", 0) for e in events if e["event"] == "phase-end"}
    per = defaultdict(float)
    for step in summary["steps"]:
        per[category(step)] += step["duration"]
    kills = sum(s["forced_kill"] for s in summary["steps"])
    roll = sum(s["duration"] for s in summary["steps"])
    steps = len(summary["steps"])
    print(f"{label}: verdict {summary['verdict']} (exit {done.returncode}) in {wall:.0f} s; "
          f"roll {roll:.0f} s over {steps} steps; forced kills {kills}; "
          f"peak cloud RSS {peak:.2f} GiB")  # fmt: skip
    print(f"   peak PSS {sampler.pss_peak / 2**30:.2f} GiB (shared pages counted once)")
    print(f"   largest at the peak: {sampler.largest()}")
    if summary.get("error"):
        print(f"   error: {summary['error']}")
    print("   " + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(per.items())))
    print("   " + ", ".join(f"phase {k} {v:.0f} s" for k, v in phases.items()))
    print(f"   up + cleanup + verify (the rest): {wall - roll - sum(phases.values()):.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=Path("scenarios/nova-rolling.yaml"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-cold", action="store_true")
    p.add_argument("--keep", type=Path, help="keep the run folders (report-cold, report-warm) here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="uh-bench-") as tmp:
        work = args.keep or Path(tmp)
        env = dict(os.environ, HARNESS_CACHE_DIR=str(work / "cache"))
        if args.skip_cold:
            env.pop("HARNESS_CACHE_DIR")
        else:
            cold = dict(env, UV_CACHE_DIR=str(work / "uv"))
            one_run("cold", args.scenario, args.seed, cold, work)
        one_run("warm", args.scenario, args.seed, env, work)


if __name__ == "__main__":
    main()
