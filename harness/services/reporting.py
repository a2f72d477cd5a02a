"""Services that report in to their project's `services` table (nova's, cinder's): a
restarted one is ready once the API shows it up with a report newer than its start."""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Callable, Iterable

from harness import wait
from harness.errors import StepFailed


def wait_reported(services: Callable[[str, str], Iterable], host: str, binary: str,
                  since: datetime.datetime, timeout: float,
                  alive: Callable[[], bool] | None = None) -> None:  # fmt: skip
    """Return once `services(binary, host)` (a project's service list through its API)
    shows `binary` on `host` up, reporting after `since` (UTC). `alive`, where the backend
    can tell, ends the wait at once when the process exited (a service that cannot start
    says so in its log, not by never reporting)."""

    def reported() -> bool:
        if alive is not None and not alive():
            raise StepFailed(f"{binary} on {host} exited while starting; its log says why")
        for svc in services(binary, host):
            if svc.state != "up" or not svc.updated_at:
                continue
            updated = datetime.datetime.fromisoformat(svc.updated_at.rstrip("Z"))
            # Strictly after the start: the old process's last report must not count.
            if updated.replace(tzinfo=None) > since:
                return True
        return False

    wait.until(reported, timeout, f"{binary} on {host} reporting up", interval=1.0)


def wait_consuming(broker, queue: str, what: str, timeout: float) -> None:
    """Return once a queue whose name matches `queue` (an fnmatch pattern) has a consumer
    on the cloud's broker: a process that starts and at once calls or casts to another
    (neutron's agents to their RPC server, cinder-scheduler asking cinder-volume for its
    capabilities) must find it consuming, or the message has nowhere to go. `broker` is
    the cloud's (bus.control's Broker: the embedded one or devstack's)."""
    from harness.bus import control as bus  # the broker, as the tracer reads it

    def consuming() -> bool:
        return any(fnmatch.fnmatchcase(q["name"], queue) and q["consumers"]
                   for q in bus.queues(broker))  # fmt: skip

    wait.until(consuming, timeout, what, interval=0.5)
