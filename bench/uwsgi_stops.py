#!/usr/bin/env python3
"""Benchmark: how the uwsgi APIs stop when the harness restarts them, two ways:

- master: SIGTERM to uwsgi's master alone, as devstack's units stop them (systemd's
  KillMode=process) — what the harness does;
- group: SIGTERM to its whole process group, the worker too — what the harness did before.

On a cloud at its base release, with the default load through the VIP and the probes
running, each given API on each node is drained, restarted (stop bound: the scenario's
stop_timeout, 30 s) and admitted again, `--repeat` times per way, the two ways taking turns.
Prints, per way and API: restarts, forced kills (the bound's SIGKILL), the median and the
slowest stop. Figures are printed, never asserted.

What it showed (session 16, 2 cores, 2026.1): with the group signalled, the worker got the
master's SIGHUP and our SIGTERM on one of the app's threads, and its exit from inside the
handler hung in Python's finalization (strace: a futex wait for good) while its main thread
went on serving; the master waited for it until the SIGKILL.

    python bench/uwsgi_stops.py [--scenario scenarios/nova-rolling.yaml] [--repeat 8]
                                [--apis nova-api neutron-api] [--state-dir DIR_OF_A_CLOUD_UP]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from base_cloud import base_cloud, run_dir

from harness import process
from harness.backends.embedded import operations
from harness.backends.embedded.cloud import Cloud
from harness.plan.events import EventLog
from harness.run.observe import Watch
from harness.services import ORDER

WAYS = {"master": False, "group": True}  # way → whole_group


def restart(cloud: Cloud, api: str, node: str, whole_group: bool) -> process.StopRecord:
    """operations.restart of a drained API, with the way of signalling chosen."""
    service = next(s.project for s in ORDER if s.api and s.api.name == api)
    proc = operations.find(cloud, node, api)
    operations.pause_checks(cloud, node, api)
    record = process.stop(proc, cloud.scenario.services.stop_timeout, whole_group=whole_group)
    operations.stopped(cloud, proc, record)
    operations.start(cloud, service, node, api, cloud.scenario.release_from)
    return record


def roll(cloud: Cloud, run_dir: Path, apis: list[str], repeat: int) -> dict:
    """(way, api) → the stop records."""
    events = EventLog(run_dir / "events.jsonl")
    watch = Watch(cloud, run_dir, events, trace_bus=False)
    watch.start()
    stops: dict[tuple[str, str], list[process.StopRecord]] = {}
    try:
        for i in range(repeat):
            for way, whole_group in WAYS.items():
                for api in apis:
                    for node in (n.name for n in cloud.scenario.serving(api)):
                        with watch.step(f"S.{i + 1}", f"{api} on {node}, SIGTERM to the {way}"):
                            operations.drain(cloud, api, node)
                            record = restart(cloud, api, node, whole_group)
                            operations.admit(cloud, api, (node,), ())
                        stops.setdefault((way, api), []).append(record)
                        print(f"{i + 1:>3} {way:7} {api:12} {node:12} {record.waited:5.1f} s"
                              + ("  forced" if record.forced else ""), flush=True)  # fmt: skip
    finally:
        watch.finish(settle_bound=60)
        events.close()
    return stops


def report(stops: dict) -> None:
    head = f"{'SIGTERM to':10} {'api':12} {'restarts':>8} {'forced':>7}"
    print(f"\n{head} {'median':>7} {'slowest':>8}")
    for (way, api), records in stops.items():
        waited = [r.waited for r in records]
        forced = sum(r.forced for r in records)
        print(f"{way:10} {api:12} {len(records):>8} {forced:>7} "
              f"{statistics.median(waited):>6.1f}s {max(waited):>7.1f}s")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/nova-rolling.yaml"))
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--apis", nargs="+", default=["nova-api", "neutron-api"])
    ap.add_argument("--state-dir", type=Path, help="a cloud that is already up (kept up)")
    args = ap.parse_args()
    folder = run_dir("uwsgi-stops")
    with base_cloud(args.scenario, args.state_dir, "stops") as cloud:
        stops = roll(cloud, folder, args.apis, args.repeat)
    report(stops)
    print(f"\nevents and ledgers: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
