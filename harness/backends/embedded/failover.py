"""A VIP failover done to a live embedded cloud with keepalived on two or more balancers:
the VIP holder's HAProxy stopped, or its keepalived killed, mid-roll; measured through the
VIP (harness/probe/vip.py), then the piece started again on that node, so the rest of the
roll has its balancers back. The oracles judge the cost against the scenario's budget
(harness/checks/failover.py)."""

from __future__ import annotations

from harness import wait
from harness.backends.embedded import operations
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy, keepalived
from harness.errors import StepFailed
from harness.probe import vip
from harness.progress import log
from harness.services import BY_NAME, ORDER

AGREE_S = 30.0  # s a restarted HAProxy's checks may take to see every server as the others do


def vip_failover(cloud: Cloud, action: str) -> dict:
    """Do the failover; what it measured."""
    if not cloud.scenario.vrrp:
        raise StepFailed(f"{action} needs keepalived: two or more nodes with the 'lb' role")

    def break_(holder: str) -> None:
        if action == "stop-vip-haproxy":
            operations.stop(cloud, holder, haproxy.NAME)
        else:
            # SIGKILL alone, as a crash: a SIGTERM would let keepalived send its
            # priority-0 advert, the graceful handover this fault is not
            operations.kill(cloud, holder, keepalived.NAME)

    def restore(holder: str) -> None:
        node = cloud.scenario.node(holder)
        if action == "stop-vip-haproxy":
            _restart_haproxy(cloud, node)
        else:
            keepalived.start(cloud, node)
            keepalived.wait_elected(cloud)  # its start takes the stale VIP off the node

    port = BY_NAME["keystone"].api.port
    measured = vip.failover(cloud.vip, port, lambda: keepalived.holders(cloud), break_, restore)
    log.info("  VIP %s → %s in %.2f s; %d of %d connections through it failed, for %.2f s",
             measured["holder"], measured["new_holder"], measured["moved_s"],
             measured["failed_probes"], measured["probes"], measured["unanswered_s"])  # fmt: skip
    return {"action": action, "vip": cloud.vip, **measured}


def _restart_haproxy(cloud: Cloud, node) -> None:
    """HAProxy started again on the old holder, with the admin states the others hold (a
    server drained or in maintenance there is so here too)."""
    haproxy.start(cloud, node, [svc.api for svc in ORDER if svc.api])
    for (frontend, server), status in haproxy.server_status(cloud).items():
        for state, name in (("DRAIN", "drain"), ("MAINT", "maint")):
            if state in status.split("|"):
                haproxy.command_on(cloud, node.name,
                                   f"set server {frontend}/{server} state {name}")  # fmt: skip
    # Back once its checks see what the others see (a first check may still be failing
    # or pending: "UP 1/2")
    agreed = lambda: not any("|" in s for s in haproxy.server_status(cloud).values())  # noqa: E731
    wait.until(agreed, AGREE_S, f"HAProxy on {node.name} agreeing with the others", interval=0.2)
