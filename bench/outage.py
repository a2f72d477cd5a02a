#!/usr/bin/env python3
"""Benchmark: the smallest nova-api outage the default load catches, and what the load
costs. On a cloud at its base release, with the default load running through the VIP,
one nova-api backend is made unavailable without a drain for 0.1, 0.5 and 1 s, several
times each, in two ways:

- refuse: its port answers every packet with a TCP reset (as a dead process would),
- freeze: the process is stopped (SIGSTOP) and continued (its connections stay open).

An outage is caught by the load when a request the failed_requests oracle counts as failed
was in flight during it (received after it began, sent before it ended + 2 s), and by the
disruption oracle when one of its outages of that backend overlaps it (the probes — a
refusal meets the connect probe, a freeze the server process's stats probe — and
HAProxy's log; harness/checks/oracles/disruption.py). Prints the share each caught per
kind and duration, requests per second, and the load worker's and the probes' CPU share.
Figures are printed, never asserted. The bus is not traced (tracing doubles the broker's
CPU; see ../shared/RPC-LEDGER.md).

    python bench/outage.py [--scenario scenarios/nova-rolling.yaml] [--repeat 5]
                           [--state-dir DIR_OF_A_CLOUD_THAT_IS_UP]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from base_cloud import base_cloud, run_dir

from harness.backends.embedded import collect, faults
from harness.backends.embedded.cloud import Cloud
from harness.checks import record
from harness.checks.oracles import disruption
from harness.load import ledger
from harness.plan.events import EventLog
from harness.run.observe import Watch

TAIL = 2.0  # seconds after an outage in which a failure is still its doing
GAP = 4.0  # quiet seconds between outages
NOVA_PORT = 8774


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def inject(cloud: Cloud, kind: str, node: str, seconds: float) -> float:
    if kind == "refuse":
        return faults.refuse_port(cloud, node, NOVA_PORT, seconds)
    return faults.freeze(cloud, node, "nova-api", seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/nova-rolling.yaml"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--durations", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    ap.add_argument("--kinds", nargs="+", default=["refuse", "freeze"])
    ap.add_argument("--state-dir", type=Path, help="a cloud that is already up (kept up)")
    args = ap.parse_args()
    folder = run_dir("outage")
    with base_cloud(args.scenario, args.state_dir, "outage") as cloud:
        windows, cpu, wall, requests = observe(cloud, folder, args)
        collect.collect_logs(cloud, folder / record.LOGS)  # HAProxy's log, for its view
    outages = disruption.check(record.RunRecord.load(folder)).evidence
    report(windows, requests, outages, cpu, wall)
    print(f"\nledger and events: {folder}")
    return 0


def observe(cloud: Cloud, run_dir: Path, args) -> tuple[list, list, float, list]:
    events = EventLog(run_dir / "events.jsonl")
    watch = Watch(cloud, run_dir, events, trace_bus=False)
    watch.start()
    pids, started = (watch.load.proc.pid, watch.probes.proc.pid), time.monotonic()
    cpu0 = [cpu_seconds(p) for p in pids]
    windows = []
    nodes = [n.name for n in cloud.scenario.with_role("api")]
    try:
        time.sleep(GAP)
        for kind in args.kinds:
            for seconds in args.durations:
                for i in range(args.repeat):
                    node = nodes[i % len(nodes)]
                    t0 = time.time()
                    with watch.step(f"O.{len(windows) + 1}", f"{kind} nova-api on {node}"):
                        took = inject(cloud, kind, node, seconds)
                    windows.append((kind, seconds, node, t0, t0 + took))
                    time.sleep(GAP)
        cpu = [cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True)]
        wall = time.monotonic() - started
    finally:
        watch.finish(settle_bound=60)
        events.close()
    requests, _ = ledger.read(watch.load.ledger)
    return windows, cpu, wall, requests


def report(windows: list, requests: list, outages: list, cpu: list, wall: float) -> None:
    failed = [r for r in requests if r.failed]
    head = f"{'kind':8} {'outage':>7} {'by the load':>12} {'by disruption':>14}"
    print(f"{head} {'failed requests':>16}")
    for kind in dict.fromkeys(w[0] for w in windows):
        for seconds in dict.fromkeys(w[1] for w in windows if w[0] == kind):
            mine = [w for w in windows if w[:2] == (kind, seconds)]
            hits = [[r for r in failed if r.received >= w[3] and r.sent <= w[4] + TAIL]
                    for w in mine]  # fmt: skip
            seen = sum(any(o["api"] == "nova-api" and o["node"] == w[2]
                           and o["start"] <= w[4] + TAIL and o["end"] >= w[3] - TAIL
                           for o in outages) for w in mine)  # fmt: skip
            caught = sum(bool(h) for h in hits)
            print(f"{kind:8} {seconds:>6}s {caught:>4}/{len(mine):<3} {caught / len(mine):>4.0%} "
                  f"{seen:>6}/{len(mine):<3} {seen / len(mine):>4.0%} "
                  f"{sum(map(len, hits)):>16}")  # fmt: skip
    stray = [o for o in outages
             if not any(o["node"] == w[2] and o["start"] <= w[4] + TAIL
                        and o["end"] >= w[3] - TAIL for w in windows)]  # fmt: skip
    print(
        f"disruption outages outside every injected one (false alarms): {len(stray)}"
        + (f"; first {stray[0]['backend']} ({', '.join(stray[0]['kinds'])})" if stray else "")
    )
    span = max(r.received for r in requests) - min(r.sent for r in requests)
    nova = [r for r in requests if r.name.startswith("nova")]
    print(f"\nload: {len(requests)} requests in {span:.0f} s ({len(requests) / span:.1f}/s, "
          f"{len(nova) / span:.1f}/s to nova); {len(failed)} failed in all")  # fmt: skip
    for name, used in zip(("load worker", "probes"), cpu, strict=True):
        print(
            f"{name} CPU: {used:.1f} s in {wall:.0f} s = {used / wall:.1%} of one core, "
            f"{used / wall / os.cpu_count():.1%} of the machine ({os.cpu_count()} cores)"
        )


if __name__ == "__main__":
    sys.exit(main())
