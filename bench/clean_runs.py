#!/usr/bin/env python3
"""Benchmark: does a correct roll stay green? Runs the default scenario N times with
`harness run` (a new seed each time) and prints, per run, its verdict, the oracles that
failed other than as a known finding, the known findings it hit (xfail), and how long it
took; then how many runs had an oracle fail that no known finding explains. Figures are
printed, never asserted.

    python bench/clean_runs.py N [--scenario scenarios/nova-rolling.yaml]
                                 [--report-dir reports/clean-runs-<stamp>] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def harness(state_dir: Path | None, *args: str, log: Path | None = None) -> int:
    cmd = [sys.executable, "-m", "harness"]
    cmd += ["--state-dir", str(state_dir)] if state_dir else []
    with open(log or "/dev/null", "w") as out:
        return subprocess.run([*cmd, *args], stdout=out, stderr=subprocess.STDOUT).returncode


def one_run(scenario: Path, run_dir: Path, state_dir: Path | None) -> dict:
    started = time.monotonic()
    try:
        status = harness(state_dir, "run", str(scenario), "--report-dir", str(run_dir),
                         log=run_dir.with_suffix(".log"))  # fmt: skip
    finally:
        harness(state_dir, "down")  # `run` takes its cloud down; this is for an interrupt
    duration = time.monotonic() - started
    path = run_dir / "results.json"
    if not path.is_file():
        return {"status": status, "verdict": "no results", "failed": ["(no results.json)"],
                "xfail": [], "duration": duration}  # fmt: skip
    res = json.loads(path.read_text())
    oracles = res["oracles"].items()
    return {
        "status": status, "verdict": res["verdict"], "duration": duration, "seed": res["seed"],
        "failed": [n for n, o in oracles if o["verdict"] == "fail"],
        "xfail": [n for n, o in oracles if o["verdict"] == "xfail"],
        "error": res.get("error"), "waived": res.get("waived", []),
    }  # fmt: skip


def tally(waived: dict[str, dict], run: dict) -> None:
    """Adds one run's waivers to the totals: per finding, the runs it was hit in and
    what it waived per oracle (in that oracle's unit)."""
    for w in run.get("waived", []):
        entry = waived.setdefault(w["reason"], {"runs": 0, "waived": {}})
        entry["runs"] += 1
        for oracle, n in w["waived"].items():
            key = f"{oracle} ({w['units'].get(oracle, 'items')})"
            entry["waived"][key] = entry["waived"].get(key, 0) + n


def print_findings(waived: dict[str, dict], runs: int) -> None:
    print(f"\nknown findings hit, of {runs} runs (what each waived in all of them):")
    for reason, entry in sorted(waived.items(), key=lambda kv: -kv[1]["runs"]):
        what = ", ".join(f"{n} {k}" for k, n in sorted(entry["waived"].items()))
        print(f"  {entry['runs']:>2} runs  {what}\n          {reason[:150]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=int)
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/nova-rolling.yaml"))
    ap.add_argument("--report-dir", type=Path, default=None)
    ap.add_argument("--state-dir", type=Path, default=None)
    args = ap.parse_args()
    if args.runs < 1:
        print("clean_runs: the number of runs must be at least 1.", file=sys.stderr)
        return 2
    base = args.report_dir or Path("reports") / f"clean-runs-{time.strftime('%Y%m%d-%H%M%S')}"
    base.mkdir(parents=True, exist_ok=True)
    dirty = 0
    waived: dict[str, dict] = {}
    print(f"{'run':>3}  {'seed':>10}  verdict  {'duration':>8}  failed (not known)  xfail")
    for i in range(1, args.runs + 1):
        r = one_run(args.scenario, base / f"run-{i}", args.state_dir)
        dirty += bool(r["failed"])
        tally(waived, r)
        print(f"{i:>3}  {r.get('seed', '-'):>10}  {r['verdict']:7}  {r['duration']:7.0f}s  "
              f"{', '.join(r['failed']) or '-':18}  {', '.join(r['xfail']) or '-'}"
              + (f"  (ended: {r['error'].splitlines()[0]})" if r.get("error") else ""),
              flush=True)  # fmt: skip
    print_findings(waived, args.runs)
    print(f"{dirty} of {args.runs} runs had an oracle fail that no known finding explains; "
          f"reports in {base}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
