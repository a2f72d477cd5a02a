#!/usr/bin/env python3
"""Benchmark: what a VIP failover costs, the figures behind the default scenario's
`failover` budget (harness/checks/failover.py).

On a cloud at its base release with keepalived on both nodes, the default load through the
VIP and the probes running, each failover is done `--repeat` times, the two taking turns,
`--pause` seconds apart: `stop-vip-haproxy` (the holder's HAProxy stopped; its check fails
twice, 1 s apart, and it hands the VIP over with a priority-0 advert) and
`kill-vip-keepalived` (SIGKILL: the peer waits out the master-down timer). Each is
measured through the VIP (harness/probe/vip.py) and the piece started again.

Prints per trial: fault → VIP on the other node (moved), VIP moved → first answered
connection, how long new connections went unanswered, and the load's requests the
failed-requests oracle counts as the failover's cost (in flight in its window, or reset
on a connection kept alive to the old holder); then the median and worst per failover.
Figures are printed, never asserted.

    python bench/failover.py [--scenario scenarios/nova-rolling.yaml] [--repeat 5]
                             [--pause 20] [--state-dir DIR_OF_A_CLOUD_UP]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from base_cloud import base_cloud, run_dir

from harness.backends.embedded import failover
from harness.backends.embedded.cloud import Cloud
from harness.checks.failover import windows as failover_windows
from harness.checks.oracles import failed_requests
from harness.load import ledger
from harness.plan.events import EventLog
from harness.plan.events import read as read_events
from harness.plan.steps import FAILOVERS
from harness.run.observe import Watch

FIGURES = ("moved_s", "moved_to_answer_s", "unanswered_s", "failed_requests")


def trials(cloud: Cloud, folder: Path, repeat: int, pause: float) -> list[dict]:
    events = EventLog(folder / "events.jsonl")
    watch = Watch(cloud, folder, events, trace_bus=False)
    watch.start()
    done = []
    try:
        time.sleep(pause)  # the load's users started and connected
        for i in range(repeat):
            for action in FAILOVERS:
                with watch.step(f"F.{i + 1}", f"FAULT {action}"):
                    done.append(failover.vip_failover(cloud, action))
                time.sleep(pause)
    finally:
        watch.finish(settle_bound=60)
        events.close()
    requests, _ = ledger.read(folder / "load" / "requests.jsonl")
    windows = failover_windows(read_events(folder / "events.jsonl"))
    _, inside = failed_requests.by_failover([r for r in requests if r.failed], requests, windows)
    for i, m in enumerate(done):  # the oracle's count: what its evidence makes its cost
        m["failed_requests"] = len(inside.get(i, []))
    return done


def report(done: list[dict]) -> None:
    print(f"\n{'failover':20} {'holder':12} {'moved':>7} {'→answer':>8} {'unanswered':>10} "
          f"{'probes failed':>13} {'requests failed':>15}")  # fmt: skip
    for m in done:
        print(f"{m['action']:20} {m['holder']:12} {m['moved_s']:>6.2f}s "
              f"{m['moved_to_answer_s']:>7.2f}s {m['unanswered_s']:>9.2f}s "
              f"{m['failed_probes']:>6}/{m['probes']:<6} {m['failed_requests']:>15}")  # fmt: skip
    print(f"\n{'failover':20} {'figure':18} {'median':>8} {'worst':>8}")
    for action in FAILOVERS:
        ms = [m for m in done if m["action"] == action]
        for key in FIGURES:
            values = [m[key] for m in ms]
            if values:
                print(f"{action:20} {key:18} {statistics.median(values):>8.2f} "
                      f"{max(values):>8.2f}")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/nova-rolling.yaml"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pause", type=float, default=20.0)
    ap.add_argument("--state-dir", type=Path, help="a cloud that is already up (kept up)")
    args = ap.parse_args()
    folder = run_dir("failover")
    with base_cloud(args.scenario, args.state_dir, "failover") as cloud:
        done = trials(cloud, folder, args.repeat, args.pause)
    report(done)
    print(f"\nevents and ledgers: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
