"""What the roll does to a running cloud, one small function per operation: restart a
process on a release, drain and admit API backends, set a config option, signal a process.
Steps (harness.plan.steps) call these; they know nothing of plans."""

from __future__ import annotations

import datetime
import signal as signals
import socket
import time

from harness import process, wait
from harness.backends import openstack_api
from harness.backends.embedded import lifecycle
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy
from harness.errors import StepFailed
from harness.services import BY_NAME
from harness.services.base import update_ini, wait_api


def find(cloud: Cloud, node: str, name: str) -> process.Proc:
    procs = cloud.processes(node=node, name=name)
    if not procs:
        raise StepFailed(f"{name} is not running on {node}")
    return procs[-1]


def stop(cloud: Cloud, node: str, name: str, timeout: float | None = None) -> process.StopRecord:
    """A graceful stop: SIGTERM, the scenario's bounded wait, then SIGKILL."""
    proc = find(cloud, node, name)
    pause_checks(cloud, node, name)
    grace = cloud.scenario.services.stop_timeout if timeout is None else timeout
    record = process.stop(proc, grace, whole_group=name in lifecycle.INFRA)
    return stopped(cloud, proc, record)


def pause_checks(cloud: Cloud, node: str, name: str) -> None:
    """A drained API backend goes into maintenance for its restart, which pauses HAProxy's
    health checks until wait_started resumes them. A check waits 10 s (`timeout check`);
    an app can take longer to load (neutron-api took 6 s beside a test run, when a check
    waited 5 s), and the check HAProxy then abandons with a reset made the new app log
    `CRITICAL … OSError: write error`: the harness's bound, not the service's fault. A
    drained server gets no requests in either state; one the plan did not drain keeps its
    checks, as it would in a wrong procedure."""
    frontend = _frontend(name)
    if not frontend or not cloud.processes(name=haproxy.NAME):
        return
    if haproxy.server_status(cloud).get((frontend, node)) == "DRAIN":
        haproxy.set_state(cloud, frontend, node, "maint")


def resume_checks(cloud: Cloud, frontend: str, node: str) -> None:
    """Back from maintenance to drained (checks on), once the app answered us."""
    if haproxy.server_status(cloud).get((frontend, node)) == "MAINT":
        haproxy.set_state(cloud, frontend, node, "drain")


def _frontend(name: str) -> str | None:
    """The HAProxy frontend of an API process name (nova-api → nova-api), else None."""
    return next((s.api.name for s in BY_NAME.values() if s.api and s.api.name == name), None)


def stopped(cloud: Cloud, proc: process.Proc, record: process.StopRecord) -> process.StopRecord:
    """Forget a process that was stopped and keep how it stopped (a forced kill is a finding)."""
    cloud.remove_process(proc)
    cloud.record["stops"].append(record.__dict__)
    cloud.save()
    return record


def kill(cloud: Cloud, node: str, name: str) -> process.StopRecord:
    """SIGKILL with no SIGTERM first, as a crash: for fault injection, never in a plan."""
    return stop(cloud, node, name, timeout=0)


def start(cloud: Cloud, service: str, node_name: str, name: str, series: str) -> None:
    svc = BY_NAME[service]
    if svc.api and name == svc.api.name:
        for port in (svc.api.port, svc.api.stats_port):  # uwsgi fails to start on either
            wait_port_free(cloud, node_name, port)
    since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    lifecycle.start_process(cloud, svc, cloud.scenario.node(node_name), name, series)
    wait_started(cloud, service, node_name, name, since)


def wait_port_free(cloud: Cloud, node: str, port: int, timeout: float = 30) -> None:
    """An API's port must be free before its successor binds it: a stopped uwsgi's last
    children can hold the listening socket a moment after the process group is gone (seen
    once: neutron-api's successor died on "Address already in use")."""
    address = cloud.scenario.node(node).address
    try:
        wait.until(lambda: not _accepting(address, port), timeout, f"{address}:{port} free")
    except StepFailed as e:
        raise StepFailed(f"{e}: something still listens there after the stop") from None


def _accepting(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def wait_started(
    cloud: Cloud, service: str, node_name: str, name: str, since: datetime.datetime
) -> None:
    """Wait until a process started at `since` (UTC) serves: an API answers and HAProxy
    checked it healthy; a nova service reported up."""
    svc = BY_NAME[service]
    if svc.api and name == svc.api.name:
        wait_api(cloud, cloud.scenario.node(node_name), svc.api)
        resume_checks(cloud, svc.api.name, node_name)
        # Answering us is not enough: HAProxy must have seen it healthy too, or admitting
        # it (and draining the old one in a handover) leaves the VIP with no server.
        wait_checked_healthy(cloud, svc.api.name, node_name)
    else:
        proc = find(cloud, node_name, name)
        timeout = cloud.scenario.services.startup_timeout
        svc.wait_ready(openstack_api.admin(cloud), node_name, name, since, timeout,
                       alive=lambda: process.alive(proc))  # fmt: skip
        svc.wait_consuming(cloud.broker(), node_name, name, timeout)


def restart(cloud: Cloud, service: str, node: str, name: str, series: str) -> process.StopRecord:
    record = stop(cloud, node, name)
    start(cloud, service, node, name, series)
    return record


# -- HAProxy --------------------------------------------------------------------------------


def current_sessions(cloud: Cloud, frontend: str, server: str) -> int:
    """The server's sessions open through every HAProxy (the one not holding the VIP can
    still have some: a client's connection from before a failover)."""
    rows = [r for r in haproxy.stats(cloud) if (r["pxname"], r["svname"]) == (frontend, server)]
    if not rows:
        raise StepFailed(f"HAProxy has no server {frontend}/{server}")
    return sum(int(r["scur"] or 0) for r in rows)


def wait_checked_healthy(cloud: Cloud, frontend: str, server: str) -> float:
    """Wait until HAProxy's health check passes for `server` (UP, or DRAIN: up but drained)."""
    return wait.until(
        lambda: haproxy.server_status(cloud)[(frontend, server)] in ("UP", "DRAIN"),
        cloud.scenario.services.startup_timeout,
        f"HAProxy's health check passing for {frontend}/{server}",
        interval=0.2,
    )


def drain(cloud: Cloud, frontend: str, server: str, timeout: float = 120) -> float:
    """Stop sending new requests to `server`; return how long its sessions took to end."""
    haproxy.set_state(cloud, frontend, server, "drain")
    return wait_drained(cloud, frontend, server, timeout)


def wait_drained(cloud: Cloud, frontend: str, server: str, timeout: float = 120) -> float:
    return wait.until(
        lambda: current_sessions(cloud, frontend, server) == 0,
        timeout,
        f"{frontend}/{server} sessions reaching zero",
        interval=0.2,
    )


def admit(cloud: Cloud, frontend: str, ready: tuple[str, ...], drain_: tuple[str, ...]) -> None:
    """Put `ready` back in rotation and drain `drain_` in one admin-socket round trip, so
    there is no moment with neither (or, in a handover, with both) serving."""
    commands = [f"set server {frontend}/{s} state ready" for s in ready]
    commands += [f"set server {frontend}/{s} state drain" for s in drain_]
    haproxy.command(cloud, ";".join(commands))
    timeout = cloud.scenario.services.startup_timeout
    for server in ready:
        wait.until(
            lambda s=server: haproxy.server_status(cloud)[(frontend, s)] == "UP",
            timeout,
            f"{frontend}/{server} UP in HAProxy",
            interval=0.2,
        )


# -- config and signals -----------------------------------------------------------------------


def set_option(cloud: Cloud, service: str, node: str, section: str, key: str, value: str) -> None:
    update_ini(BY_NAME[service].conf(cloud, node), section, key, value)


def send_signal(cloud: Cloud, node: str, name: str, sig: str) -> None:
    proc = find(cloud, node, name)
    if not process.signal_proc(proc, getattr(signals, sig)):
        raise StepFailed(f"{name} on {node} is not running")
    time.sleep(0.5)  # let it act on the signal before the next step touches it
