"""The probe worker: `python -m harness.probe.worker CONFIG.json`. For each API backend
(an API on one node, at the node's own address) two loops in threads:

- connect: a TCP connect every `connect_interval` s, reset at once (SO_LINGER 0). The
  kernel answers it, so the API pays nothing and a busy worker is not mistaken for a dead
  one; a refusal, a reset or no answer within `connect_timeout` is a failure.
- http: GET the API's health path every `http_interval` s on a new connection; a failure is
  no answer within `stall_s` (the backend stopped answering) or a 5xx. Each API runs one
  uwsgi worker, so an answer slower than a slow request in hand is not a failure: the
  bound is HAProxy's own health-check timeout (5 s).

Only failures are written (probes.jsonl), with a tick every `tick_s` s of how many probes
each backend got and the loops' worst lateness, so a gap in the probing itself is seen.
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

    def write(self, record: dict) -> None:
        with self.lock:
            self.out.write(json.dumps(record) + "\n")

    def count(self, backend: str, loop: str, late: float) -> None:
        """`late`: how far behind its schedule a connect loop ran (an HTTP loop waits for
        its answers, so its lateness says how slow the API was, not the probing)."""
        with self.lock:
            row = self.counts.setdefault(backend, {"connect": 0, "http": 0})
            row[loop] += 1
            if loop == "connect":
                self.late = max(self.late, late)

    def tick(self) -> None:
        with self.lock:
            record = {"tick": round(time.time(), 3), "counts": self.counts,
                      "late_s": round(self.late, 3)}  # fmt: skip
            self.counts, self.late = {}, 0.0
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
        sent = time.time()
        if kind == "connect":
            failure = connect_once(backend["address"], backend["port"], config["connect_timeout"])
        else:
            failure = http_once(backend["address"], backend["port"], backend["path"],
                                config["stall_s"])  # fmt: skip
        ledger.count(name, kind, max(0.0, late))
        if failure:
            ledger.write({"t": round(sent, 3), "api": backend["api"], "node": backend["node"],
                          "probe": kind, "failure": failure,
                          "ms": round((time.time() - sent) * 1000, 1)})  # fmt: skip
        due += interval
        stop.wait(max(0.0, due - time.monotonic()))
        due = max(due, time.monotonic() - interval)  # after a long stall, do not burst


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
               for b in config["backends"] for kind in ("connect", "http")]  # fmt: skip
    ledger.write(
        {
            "started": round(time.time(), 3),
            "backends": config["backends"],
            **{k: config[k] for k in ("connect_interval", "http_interval", "stall_s")},
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
