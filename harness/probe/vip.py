"""A VIP failover measured from where the clients are: a new TCP connection to the VIP
every PROBE_S (the kernel or HAProxy answers at once, so a failure is the VIP's), while a
backend breaks the node holding it and restores it. Both backends use it (the embedded
cloud's failover.py, devstack's fault), so the figures mean the same on each."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from harness import wait

PROBE_S = 0.05  # s between connections through the VIP
ANSWER_S = 0.5  # s a connection may take: the kernel (or HAProxy) answers in well under it
BOUND_S = 60.0  # s the VIP may take to move and answer before the step fails


class VipWatch:
    """Connections to the VIP, one every PROBE_S, each ok or not, with its time. Each in a
    thread of its own: a connection left unanswered (the VIP on no node for a moment) must
    not hold up the next, or the VIP's return is seen a timeout late (measured: 0.5 s)."""

    def __init__(self, address: str, port: int):
        self.target = (address, port)
        self.seen: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> VipWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            threading.Thread(target=self._probe, daemon=True).start()
            self._stop.wait(PROBE_S)

    def _probe(self) -> None:
        t = time.time()
        try:
            with socket.create_connection(self.target, timeout=ANSWER_S):
                ok = True
        except OSError:
            ok = False
        self.seen.append((t, ok))  # list.append is atomic: no lock needed

    def _sorted(self) -> list[tuple[float, bool]]:
        return sorted(list(self.seen))  # answers come back out of order

    def failed(self, since: float) -> list[float]:
        return [t for t, ok in self._sorted() if t >= since and not ok]

    def answered_after(self, t: float) -> float | None:
        return next((s for s, ok in self._sorted() if s > t and ok), None)


def failover(address: str, port: int, holders: Callable[[], list[str]],
             break_: Callable[[str], None], restore: Callable[[str], None]) -> dict:  # fmt: skip
    """Break the VIP's holder (`break_(node)`), wait for another node to hold the VIP and
    for it to answer, `restore(node)`; what was measured (epoch seconds, durations)."""
    holder = _one(holders)
    with VipWatch(address, port) as watch:
        fault_at = time.time()
        break_(holder)
        new_holder, moved_at = _moved(holders, holder)
        answered_at = _answered(watch, fault_at)
        restore(holder)
        restored_at = time.time()
        failed = watch.failed(fault_at)
    return {
        "holder": holder, "new_holder": new_holder,
        "fault_at": round(fault_at, 3), "moved_at": round(moved_at, 3),
        "answered_at": round(answered_at, 3), "restored_at": round(restored_at, 3),
        "moved_s": round(moved_at - fault_at, 3),
        "moved_to_answer_s": round(max(0.0, answered_at - moved_at), 3),
        "unanswered_s": round(answered_at - min(failed), 3) if failed else 0.0,
        "failed_probes": len(failed), "probes": sum(t >= fault_at for t, _ in watch.seen),
    }  # fmt: skip


def _one(holders: Callable[[], list[str]]) -> str:
    wait.until(lambda: len(holders()) == 1, BOUND_S, "one node holding the VIP", interval=0.1)
    return holders()[0]


def _moved(holders: Callable[[], list[str]], holder: str) -> tuple[str, float]:
    """The node that took the VIP over, and when (the old holder may keep a stale copy
    after its keepalived was killed: the new holder is the one that matters)."""
    found: list[tuple[str, float]] = []

    def other() -> bool:
        others = [h for h in holders() if h != holder]
        if others:
            found.append((others[0], time.time()))
        return bool(others)

    wait.until(other, BOUND_S, f"the VIP moving off {holder}", interval=0.05)
    return found[0]


def _answered(watch: VipWatch, fault_at: float) -> float:
    """When the VIP answered after its last failed connection (at once, if none failed)."""

    def last_ok() -> float | None:
        failed = watch.failed(fault_at)
        return watch.answered_after(max(failed) if failed else fault_at)

    wait.until(lambda: last_ok() is not None, BOUND_S, "the VIP answering again", interval=0.05)
    return last_ok()
