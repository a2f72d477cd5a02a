"""What a VIP failover may cost, and the failovers a run did (its `failover` events).

A failover is a fault step of the scenario (its HAProxy stopped, or its keepalived killed,
on the node holding the VIP), not a mistake of the roll: the requests it costs are known
in advance and stated in the scenario's `failover` budget, from measured failovers
(docs/benchmarks.md: bench/failover.py). The failed-requests oracle excuses that many in
the failover's window and the disruption oracle the VIP's silence up to `max_seconds`;
beyond either, they fail as for any other disruption.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.plan.events import FAILOVER as EVENT

# A connection that failed or was cut, as Python's HTTP clients and keystoneauth say it.
CONNECTION = re.compile(r"Connection(Reset|Refused|Aborted)Error|RemoteDisconnected|"
                        r"Connection (aborted|refused|reset)|ConnectFailure|"
                        r"Unable to establish connection|Max retries exceeded")  # fmt: skip

# s after the VIP answered again (and the stopped piece is back) that still belong to the
# failover: each load user's connection kept alive to the old holder is reset on its next
# request, which comes within a think time (0.6 s) and a request (~1 s) of the move.
AFTER_S = 5.0


@dataclass(frozen=True)
class FailoverBudget:
    """A correct failover's cost, per failover (measured: docs/benchmarks.md)."""

    max_seconds: float = 5.0  # the VIP unanswered: the fault to the first answer after it
    max_failed_requests: int = 20  # requests through the VIP that failed in its window


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    step: str
    allowed_s: float
    allowed_failed: int
    measured: dict


def windows(events: list[dict]) -> list[Window]:
    """Each failover the run did: from its fault to AFTER_S past its end."""
    out = []
    for e in events:
        if e.get("event") != EVENT:
            continue
        end = max(x for x in (e.get("answered_at"), e.get("moved_at"), e.get("restored_at"),
                              e["fault_at"]) if x is not None)  # fmt: skip
        out.append(Window(e["fault_at"], end + AFTER_S, e.get("step", ""),
                          e["allowed_s"], e["allowed_failed"], e))  # fmt: skip
    return out


def within(windows_: list[Window], t: float) -> Window | None:
    return next((w for w in windows_ if w.start <= t <= w.end), None)


def grouped(
    items: list, windows_: list[Window], window_of: Callable[[object], Window | None]
) -> tuple[list, dict[int, list]]:
    """(the items no failover explains, {window index: the items that are its cost}), each
    item's failover as `window_of` finds it."""
    left: list = []
    inside: dict[int, list] = {}
    for item in items:
        w = window_of(item)
        if w is None:
            left.append(item)
        else:
            inside.setdefault(windows_.index(w), []).append(item)
    return left, inside


def within_budget(left: list, inside: dict[int, list],
                  windows_: list[Window]) -> tuple[list, int]:  # fmt: skip
    """Each failover's items excused if they are no more than its budget (above it, every
    one of them counts): (the items left, how many were excused)."""
    excused = 0
    for i, items in inside.items():
        if len(items) <= windows_[i].allowed_failed:
            excused += len(items)
        else:
            left = left + items
    return left, excused


def spanning(windows_: list[Window], sent: float, ended: float) -> Window | None:
    """The failover a request was in flight in: sent before its window ended, and ended
    (answered, or given up by its client) after it began. Seen: a tempest request that
    the old holder's HAProxy took 0.4 s before the VIP left that node, whose answer then
    had no address to leave from; its client waited out its 60 s read timeout."""
    return next((w for w in windows_ if sent <= w.end and ended >= w.start), None)


def cut_off(windows_: list[Window], t: float, text: str) -> Window | None:
    """The failover whose window a service's record at `t` falls in, when the record says
    a connection to that failover's VIP failed or was cut (seen: nova-compute's build
    failing on placement through the VIP while the VIP moved, and the conductor's
    reschedule quoting it)."""
    w = within(windows_, t)
    vip = w.measured.get("vip") if w else None
    if vip and (f"//{vip}:" in text or f"host='{vip}'" in text) and CONNECTION.search(text):
        return w
    return None


def moved(w: Window) -> float:
    """When the VIP left its holder (the fault, if it never moved)."""
    return w.measured.get("moved_at") or w.start


def stale(windows_: list[Window], opened_before: float, sent: float) -> Window | None:
    """The failover that moved the VIP between a client's last request on a kept-alive
    connection (`opened_before`: that connection was to the old holder) and this one,
    which the new holder then reset: the failover's cost, however long after it the
    client came back (seen: a load user's neutron and placement connections reset 25-45 s
    after a failover, at their first use since)."""
    return next((w for w in windows_ if opened_before < moved(w) <= sent), None)
