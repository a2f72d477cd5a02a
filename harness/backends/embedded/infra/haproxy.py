"""HAProxy on every load-balancer node (the scenario's `lb` role; the controller when no node
has it), each fronting every API service on every API node. With two or more, keepalived
(infra/keepalived.py) holds the VIP on one of them; every command of the roll (drain,
maintenance, handover) goes to each HAProxy, so whichever holds the VIP obeys it.

Each answer carries a header naming the server (node) that served it. The admin socket
(mode 600, level admin) is the runtime API the roll uses to drain and re-admit backends.
Each HAProxy logs every request it forwards and every server state change to its stdout
(its node's haproxy.log) with an ISO timestamp, in the format the disruption oracle reads
(checks/haproxy_log.py): a retry that spared the client is still seen.
"""

from __future__ import annotations

import csv
import io
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness import process, wait
from harness.checks.haproxy_log import LOG_FORMAT

if TYPE_CHECKING:  # the cloud starts and addresses this piece of it
    from harness.backends.embedded.cloud import Cloud
    from harness.scenario import Node

NAME = "haproxy"
SERVER_HEADER = "X-Backend-Server"


class Frontend(Protocol):
    """What HAProxy fronts: a service's Api (harness/services/base.py)."""

    name: str  # the API service, e.g. "nova-api"
    port: int
    health_path: str


def _base(cloud: Cloud, node: str) -> Path:
    return cloud.node_dir(node, NAME)


def admin_socket(cloud: Cloud, node: str) -> Path:
    return _base(cloud, node) / "admin.sock"


def balancers(cloud: Cloud) -> list[str]:
    """The nodes whose HAProxy runs now (a fault may have stopped one)."""
    running = {p.node for p in cloud.processes(name=NAME)}
    return [n.name for n in cloud.scenario.balancers if n.name in running]


def render(cloud: Cloud, node: str, frontends: list[Frontend]) -> str:
    lines = [
        "global",
        f"    stats socket {admin_socket(cloud, node)} mode 600 level admin",
        "    maxconn 4096",
        "    log stdout format iso local0 info",
        "",
        "defaults",
        "    mode http",
        "    log global",
        f'    log-format "{LOG_FORMAT}"',
        "    option redispatch",
        "    retries 3",
        "    timeout connect 5s",
        "    timeout client 300s",
        "    timeout server 300s",
        "    timeout http-keep-alive 30s",
        # A health check may wait 10 s for its answer (the default is `inter`, 1 s): a
        # single-worker API busy with a slow request on a loaded machine is not down, and
        # with both servers checked out at once the VIP had none (seen in CI, two clouds
        # on two cores). 5 s was not enough once volumes were attached: nova-api's one
        # worker spent 4.4 s on an attach and 0.9 s on the next request, and the check
        # queued behind them was given up and reset, which nova logged as `CRITICAL …
        # OSError: write error` (the harness's bound, not nova's fault). A dead server
        # still fails at once: its port refuses.
        "    timeout check 10s",
        "",
    ]
    for fe in frontends:
        lines += [
            f"listen {fe.name}",
            # The VIP alone (the node's own address has the API on the port): while another
            # node holds it, the bind works through the namespace's ip_nonlocal_bind
            # (netns.create_node), as nova's zero-downtime guide sets it.
            f"    bind {cloud.vip}:{fe.port}",
            "    balance roundrobin",
            f"    option httpchk GET {fe.health_path}",
            "    http-check expect rstatus ^[23]",
            f"    http-response set-header {SERVER_HEADER} %s",
        ]
        lines += [
            f"    server {n.name} {n.address}:{fe.port} check inter 1s fall 2 rise 1"
            for n in cloud.scenario.serving(fe.name)
        ]
        lines.append("")
    return "\n".join(lines)


def start(cloud: Cloud, node: Node, frontends: list[Frontend]) -> process.Proc:
    cfg = _base(cloud, node.name) / "haproxy.cfg"
    cfg.write_text(render(cloud, node.name, frontends))
    argv = ["haproxy", "-f", str(cfg), "-db"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    sock = admin_socket(cloud, node.name)
    sock.unlink(missing_ok=True)  # a stopped HAProxy's (a failover's), which would not answer
    proc = process.spawn(NAME, node.name, cloud.netns(node), argv, env, cloud.log_path(node, NAME))
    cloud.add_process(proc)
    wait.until(sock.exists, 30, f"HAProxy's admin socket on {node.name}")
    return proc


def command_on(cloud: Cloud, node: str, line: str) -> str:
    """One command on a node's admin socket (the runtime API), its answer as text."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(admin_socket(cloud, node)))
        s.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def command(cloud: Cloud, line: str) -> None:
    """One command sent to every running HAProxy (a drain, a handover)."""
    for node in balancers(cloud):
        command_on(cloud, node, line)


def stats(cloud: Cloud) -> list[dict[str, str]]:
    """`show stat` of every running HAProxy as rows (pxname, svname, status, scur: current
    sessions, …), each with the node it came from as `balancer`."""
    return [
        {**row, "balancer": node}
        for node in balancers(cloud)
        for row in parse_stats(command_on(cloud, node, "show stat"))
    ]


def parse_stats(text: str) -> list[dict[str, str]]:
    """The admin socket's `show stat` answer (CSV with a "# " header) as rows."""
    return list(csv.DictReader(io.StringIO(text.lstrip("# "))))


def server_status(cloud: Cloud) -> dict[tuple[str, str], str]:
    """(frontend, server) → status ('UP', 'DOWN', 'DRAIN', 'MAINT', …) for every server:
    the one status every HAProxy agrees on, else theirs joined by '|' in node order (so a
    wait for 'UP' waits for all of them)."""
    seen: dict[tuple[str, str], list[str]] = {}
    for row in stats(cloud):
        if row["svname"] not in ("FRONTEND", "BACKEND"):
            seen.setdefault((row["pxname"], row["svname"]), []).append(row["status"])
    return {key: "|".join(dict.fromkeys(states)) for key, states in seen.items()}


def set_state(cloud: Cloud, frontend: str, server: str, state: str) -> None:
    """state: ready | drain | maint, on every HAProxy."""
    command(cloud, f"set server {frontend}/{server} state {state}")
