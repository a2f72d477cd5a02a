"""The probe worker: `python -m harness.probe.worker CONFIG.json`. For each API backend
(an API on one node, at the node's own address) three loops in threads:

- connect: a TCP connect every `connect_interval` s, reset at once (SO_LINGER 0). The
  kernel answers it, so the API pays nothing and a busy worker is not mistaken for a dead
  one; a refusal, a reset or no answer within `connect_timeout` is a failure.
- http: GET the API's health path every `http_interval` s on a new connection; a failure is
  no answer within `stall_s` (the backend stopped answering) or a 5xx. Each API runs one
  uwsgi worker, so an answer slower than a slow request in hand is not a failure: the
  bound is HAProxy's own health-check timeout (5 s).
- alive: read the stats socket of the API's server process (uwsgi's master, which runs no
  application code) every `alive_interval` s; a failure is no answer within
  `alive_timeout` (a late answer is awaited up to `stall_s`, so the failure's duration is
  how long the server was silent). A busy worker does not slow it, so a short bound tells
  a server that stopped (frozen, paused, its node stalled) from one that is busy, which
  the HTTP probe cannot do below 5 s.

Only failures are written (probes.jsonl), with a tick every `tick_s` s of how many probes
each backend got, the loops' worst lateness, so a gap in the probing itself is seen, and
each backend's slowest answer of its server process (how near the alive bound it came;
unanswered probes are failures, not counted there).
Stops when the stop file appears, on SIGTERM, after `max_seconds`, when the harness that
started it dies, or when the cloud's bridge goes away (the addresses are only ours while
it exists)."""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

NAMED = ((TimeoutError, "timeout"), (ConnectionRefusedError, "refused"),
         (ConnectionResetError, "reset"))  # fmt: skip
LINGER_RESET = struct.pack("ii", 1, 0)  # close with a reset: no TIME_WAIT, no half-open peer


class Ledger:
    def __init__(self, path: Path):
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 (open for the worker's life)
        self.lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = {}
        self.late = 0.0
        self.slowest: dict[str, float] = {}  # backend → its slowest alive answer, ms

    def write(self, record: dict) -> None:
        with self.lock:
            self.out.write(json.dumps(record) + "\n")

    def count(self, backend: str, loop: str, late: float, took: float | None) -> None:
        """`late`: how far behind its schedule a connect loop ran (the other loops wait for
        their answers, so their lateness says how slow the API was, not the probing);
        `took`: how long an answered probe waited, in seconds (None: it failed)."""
        with self.lock:
            row = self.counts.setdefault(backend, {"connect": 0, "http": 0, "alive": 0})
            row[loop] += 1
            if loop == "connect":
                self.late = max(self.late, late)
            elif loop == "alive" and took is not None:
                self.slowest[backend] = max(self.slowest.get(backend, 0.0), took * 1000)

    def tick(self) -> None:
        with self.lock:
            record = {"tick": round(time.time(), 3), "counts": self.counts,
                      "late_s": round(self.late, 3),
                      "alive_ms": {b: round(ms, 1) for b, ms in self.slowest.items()}}  # fmt: skip
            self.counts, self.late, self.slowest = {}, 0.0, {}
        self.write(record)


def connect_once(address: str, port: int, timeout: float) -> str | None:
    """None when the port accepted; else refused | reset | timeout | the error's name."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        s.connect((address, port))
        return None
    except OSError as e:
        return _named(e, errno.errorcode.get(e.errno or 0, type(e).__name__))
    finally:
        s.close()


def http_once(address: str, port: int, path: str, timeout: float) -> str | None:
    """None when it answered below 500; else timeout | status NNN | refused | reset | …"""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        status = conn.getresponse().status
        return None if status < 500 else f"status {status}"
    except (OSError, http.client.HTTPException) as e:
        return _named(e, type(e).__name__)
    finally:
        conn.close()


def alive_once(address: str, port: int, timeout: float, patience: float) -> str | None:
    """None when the server process sent its stats (uwsgi's master writes them and closes)
    within `timeout`; else timeout | refused | reset | empty | the error's name. A late
    answer is still awaited up to `patience`, so the probe's own duration says how long the
    server was silent (a 0.5 s stop reads 0.5 s, not the bound); the bounds are the whole
    answer's, not each read's."""
    began = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=patience) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            got = 0
            while chunk := _recv(s, began + patience):
                got += len(chunk)
    except OSError as e:
        return _named(e, errno.errorcode.get(e.errno or 0, type(e).__name__))
    if not got:
        return "empty"
    return "timeout" if time.monotonic() - began > timeout else None


def _recv(s: socket.socket, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    s.settimeout(left)
    return s.recv(65536)


SETTINGS = ("connect_interval", "http_interval", "stall_s", "alive_interval", "alive_timeout")
PROBES = {
    "connect": lambda b, c: connect_once(b["address"], b["port"], c["connect_timeout"]),
    "http": lambda b, c: http_once(b["address"], b["port"], b["path"], c["stall_s"]),
    "alive": lambda b, c: alive_once(
        b["address"], b["stats_port"], c["alive_timeout"], c["stall_s"]
    ),
}


def _named(e: Exception, otherwise: str) -> str:
    """A probe's failure as the oracle reads it: timeout | refused | reset, else `otherwise`."""
    return next((name for kind, name in NAMED if isinstance(e, kind)), otherwise)


def loop(ledger: Ledger, backend: dict, kind: str, config: dict, stop: threading.Event) -> None:
    """Probe one backend every interval until stopped; write each failure."""
    name = f"{backend['api']}@{backend['node']}"
    interval = config[f"{kind}_interval"]
    due = time.monotonic()
    while not stop.is_set():
        late = time.monotonic() - due
        sent, began = time.time(), time.monotonic()
        failure = PROBES[kind](backend, config)
        took = None if failure else time.monotonic() - began
        ledger.count(name, kind, max(0.0, late), took)
        if failure:
            ledger.write({"t": round(sent, 3), "api": backend["api"], "node": backend["node"],
                          "probe": kind, "failure": failure,
                          "ms": round((time.time() - sent) * 1000, 1)})  # fmt: skip
        due += interval
        stop.wait(max(0.0, due - time.monotonic()))
        due = max(due, time.monotonic() - interval)  # after a long stall, do not burst


def loops(backend: dict) -> tuple[str, ...]:
    """A backend without a stats port (a server other than uwsgi) gets no alive loop."""
    return ("connect", "http", "alive") if backend.get("stats_port") else ("connect", "http")


def running(config: dict, stopping: list, parent: int) -> bool:
    bridge = Path("/sys/class/net") / config["bridge"] if config["bridge"] else None
    return (not stopping and not Path(config["stop_file"]).exists()
            and os.getppid() == parent and (bridge is None or bridge.exists()))  # fmt: skip


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    # Ahead of the cloud it watches for the CPU (it uses about 2 % of a core): a probe loop
    # starved by a busy API is a blind spot (measured: loops 0.76 s late, at nice 0)
    with contextlib.suppress(OSError):  # not root: probe at the default priority
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    ledger = Ledger(Path(config["ledger"]))
    stopping: list[str] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    stop, parent = threading.Event(), os.getppid()
    threads = [threading.Thread(target=loop, args=(ledger, b, kind, config, stop), daemon=True)
               for b in config["backends"] for kind in loops(b)]  # fmt: skip
    ledger.write(
        {
            "started": round(time.time(), 3),
            "backends": config["backends"],
            **{k: config.get(k) for k in SETTINGS},
        }
    )
    for t in threads:
        t.start()
    deadline, next_tick = time.time() + config["max_seconds"], time.time() + config["tick_s"]
    while running(config, stopping, parent) and time.time() < deadline:
        time.sleep(0.2)
        if time.time() >= next_tick:
            ledger.tick()
            next_tick += config["tick_s"]
    stop.set()
    for t in threads:
        t.join(timeout=config["stall_s"] + 1)
    ledger.tick()
    ledger.write({"stopped": round(time.time(), 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
