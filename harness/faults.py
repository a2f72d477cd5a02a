"""Faults done to a live cloud, for the oracles to catch: a port refusing connections, a
process frozen, each for a given time. Used by the end-to-end tests and the benchmarks;
never part of a correct plan.

Timing: each is bracketed by the caller (a Watch step), and `for_seconds` is the time
between switching the fault on and off as measured here, returned to the caller.
"""

from __future__ import annotations

import signal
import subprocess
import time

from harness import operations, process
from harness.cloud import Cloud

TABLE = "uh_fault"


def _nft(cloud: Cloud, node: str, script: str) -> None:
    argv = process.netns_argv(cloud.netns(cloud.scenario.node(node)), ["nft", "-f", "-"])
    subprocess.run(argv, input=script.encode(), check=True, capture_output=True, timeout=30)


REFUSE = """
table inet {table} {{
  chain input {{
    type filter hook input priority 0; policy accept;
    ip daddr {address} tcp dport {port} reject with tcp reset
  }}
}}
"""


def refuse_port(cloud: Cloud, node: str, port: int, seconds: float) -> float:
    """Every packet to the node's address on `port` answered with a TCP reset for
    `seconds`: new connections are refused, and ones in flight are cut, as when the process
    dies. (The address matters: on the controller the VIP listens on the same port.)"""
    address = cloud.scenario.node(node).address
    _nft(cloud, node, REFUSE.format(table=TABLE, address=address, port=port))
    started = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        _nft(cloud, node, f"delete table inet {TABLE}\n")
    return time.monotonic() - started


def freeze(cloud: Cloud, node: str, name: str, seconds: float) -> float:
    """SIGSTOP a process and its children for `seconds`, then SIGCONT: it accepts nothing
    and answers nothing, but its connections stay open."""
    proc = operations.find(cloud, node, name)
    process.signal_group(proc.pid, signal.SIGSTOP)
    started = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        process.signal_group(proc.pid, signal.SIGCONT)
    return time.monotonic() - started
