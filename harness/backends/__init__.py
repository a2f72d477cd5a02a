"""Backends: where a plan's steps are carried out.

A step (harness/plan/steps.py) says *what* happens — restart nova-compute on compute-api
onto 2026.2 — and asks the run's backend to do it. The embedded backend does it to the
cloud the harness brought up in network namespaces; the devstack backend does it to real
devstack nodes over SSH (systemd units, a venv per release, each node's HAProxy). The
plan, the load and the oracles are the same for both: what differs lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Stop:
    """How a graceful stop went: SIGKILL needed after the grace (a finding), and how long
    from the stop request to the process being gone."""

    forced: bool
    waited: float


# node → process → release it runs
Releases = dict[str, dict[str, str]]


class Backend(Protocol):
    name: str

    def install(self, node: str, series: str) -> None:
        """Put `series` on `node` beside what runs there; nothing restarts."""

    def manage(self, service: str, action: str, series: str) -> str | None:
        """A project's management command (DB sync, online migrations) with `series` code,
        on the controller; returns a finding worth reporting, if any."""

    def set_option(self, service: str, node: str, section: str, key: str, value: str) -> None:
        """Set an option in the service's config on `node` (read at the next start)."""

    def restart(self, service: str, node: str, process: str, series: str) -> Stop:
        """Graceful stop, start on `series`, return once it serves again."""

    def drain(self, frontend: str, node: str) -> None:
        """No new requests to `node` behind `frontend`; return once its sessions ended."""

    def admit(self, frontend: str, ready: tuple[str, ...], drain: tuple[str, ...]) -> None:
        """Put `ready` in rotation and drain `drain` in one command; return once the ready
        ones are UP and the drained ones have no sessions."""

    def signal(self, node: str, process: str, sig: str) -> None:
        """Send `sig` (a name such as SIGHUP) to the process."""

    def set_compute_enabled(self, node: str, enabled: bool) -> None:
        """Disable (waiting for builds placed there) or enable the node's nova-compute."""

    def releases(self) -> Releases:
        """What every service process runs now, asked of the nodes."""


NAMES = ("embedded", "devstack")
