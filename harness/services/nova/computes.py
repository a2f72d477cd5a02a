"""Nova's services as an operator sees them through the API: is a restarted service
reporting in, and taking a compute out of scheduling. The same on every backend."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from harness import wait
from harness.errors import StepFailed


def wait_up(conn, host: str, binary: str, since: datetime.datetime, timeout: float,
            alive: Callable[[], bool] | None = None) -> None:  # fmt: skip
    """A restarted nova service is ready once it has reported in after `since` (UTC).
    `alive`, where the backend can tell, ends the wait at once when the process exited
    (a service that cannot start says so in its log, not by never reporting)."""

    def reported() -> bool:
        if alive is not None and not alive():
            raise StepFailed(f"{binary} on {host} exited while starting; its log says why")
        for svc in conn.compute.services(binary=binary, host=host):
            if svc.state != "up" or not svc.updated_at:
                continue
            updated = datetime.datetime.fromisoformat(svc.updated_at.rstrip("Z"))
            # Strictly after the start: the old process's last report must not count.
            if updated.replace(tzinfo=None) > since:
                return True
        return False

    wait.until(reported, timeout, f"{binary} on {host} reporting up", interval=1.0)


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
    wait.until(lambda: not _builds_on(conn, host), timeout, f"builds on {host} to finish")


def _builds_on(conn, host: str) -> list:
    return list(conn.compute.servers(all_projects=True, host=host, status="BUILD"))
