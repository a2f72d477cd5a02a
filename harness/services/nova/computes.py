"""Nova's services as an operator sees them through the API: is a restarted service
reporting in, and taking a compute out of scheduling. The same on every backend."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from harness import wait
from harness.errors import StepFailed
from harness.services import reporting

# s: from the scheduler's choice to the compute's claim (seen: 0.2 s), with room to spare
PLACING_S = 30.0


def wait_up(conn, host: str, binary: str, since: datetime.datetime, timeout: float,
            alive: Callable[[], bool] | None = None) -> None:  # fmt: skip
    """A restarted nova service is ready once it has reported in after `since` (UTC)."""

    def services(binary: str, host: str):
        return conn.compute.services(binary=binary, host=host)

    reporting.wait_reported(services, host, binary, since, timeout, alive)


def set_compute_enabled(conn, host: str, enabled: bool, timeout: float = 120) -> None:
    """Disable (or enable) a nova-compute, as an operator does before maintenance: the
    scheduler stops placing builds on it. Disabling then waits for the builds already
    placed there to finish, so a restart does not cut them off."""
    service = next(conn.compute.services(host=host, binary="nova-compute"), None)
    if service is None:
        raise StepFailed(f"nova has no nova-compute service on {host}")
    if enabled:
        conn.compute.update_service(service, status="enabled")
        return
    conn.compute.update_service(service, status="disabled",
                                disabled_reason="upgrade-harness: rolling upgrade")  # fmt: skip
    # A build the scheduler placed just before the disable has no host until its compute
    # claims it (seen: claimed 0.2 s after the disable, not yet listed on the host, and cut
    # off by the restart that followed): wait for the builds unplaced at the disable too.
    # A build unplaced for longer than PLACING_S is stuck elsewhere (a build lost in a
    # restart: the end-to-end ledger's finding), not on its way here.
    unplaced = {s.id for s in _building(conn) if not s.compute_host}
    until = time.monotonic() + PLACING_S
    wait.until(lambda: not _builds_on(conn, host, unplaced if time.monotonic() < until else set()),
               timeout, f"builds on {host} to finish")  # fmt: skip


def _building(conn) -> list:
    return list(conn.compute.servers(all_projects=True, status="BUILD"))


def _builds_on(conn, host: str, unplaced: set[str]) -> list:
    """The builds on `host`, and those of `unplaced` still without a host."""
    return [s for s in _building(conn)
            if s.compute_host == host or (not s.compute_host and s.id in unplaced)]  # fmt: skip
