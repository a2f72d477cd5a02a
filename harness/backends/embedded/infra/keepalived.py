"""keepalived on every load-balancer node, holding the VIP by VRRP, as nova's zero-downtime
guide has it: one node holds the VIP, and when its HAProxy stops answering (or its
keepalived goes) another takes it.

VRRP over unicast on the nodes' bridge (no multicast needed), every instance starting as
BACKUP with `nopreempt`: the first node (priority 101) is elected when nobody advertises,
and a node that recovers does not take the VIP back, which would move it a second time.
The health script asks the node's own HAProxy on its admin socket: `killall -0 haproxy`
(the guide's) would see the other node's HAProxy, since pids are machine-wide here, and
keepalived's process tracking needs the proc connector, which fails outside the initial
network namespace.

Failover (measured: docs/benchmarks.md, bench/failover.py) is the script's `fall` checks
1 s apart, then the priority-0 advert that hands the VIP over at once; a keepalived killed
sends nothing, so its peer waits out the master-down timer (3 adverts and a skew, ≈3.6 s)
and the killed node keeps the address until its keepalived starts again and removes it.
Each node's keepalived logs its states to the node's keepalived.log.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness import process, wait
from harness.backends.embedded import netns
from harness.backends.embedded.infra import haproxy

if TYPE_CHECKING:  # the cloud starts and addresses this piece of it
    from harness.backends.embedded.cloud import Cloud
    from harness.scenario import Node

NAME = "keepalived"
ROUTER_ID = 51  # unicast on the cloud's own bridge: another cloud's VRRP never reaches it
ADVERT_S = 1
FALL = 2  # failed health checks, ADVERT_S apart, before the node gives the VIP away
ELECTION_S = 30.0  # a bound on the first election (≈3.6 s: the master-down timer)


def _base(cloud: Cloud, node: str) -> Path:
    return cloud.node_dir(node, NAME)


def render(cloud: Cloud, node: Node) -> str:
    peers = [n for n in cloud.scenario.balancers if n.name != node.name]
    priority = 101 - cloud.scenario.balancers.index(node)
    return "\n".join([
        "global_defs {",
        f"    router_id {node.name}",
        "    script_user root",  # the script is root's, in root-only directories
        "    enable_script_security",
        "}",
        "vrrp_script chk_haproxy {",
        f'    script "{_write_check(cloud, node.name)}"',
        f"    interval {ADVERT_S}",
        "    timeout 1",
        f"    fall {FALL}",
        "    rise 1",
        "}",
        "vrrp_instance VIP {",
        "    state BACKUP",
        "    interface eth0",
        f"    virtual_router_id {ROUTER_ID}",
        f"    priority {priority}",
        f"    advert_int {ADVERT_S}",
        "    nopreempt",
        f"    unicast_src_ip {node.address}",
        "    unicast_peer {",
        *(f"        {n.address}" for n in peers),
        "    }",
        "    virtual_ipaddress {",
        f"        {cloud.vip}/32 dev eth0",
        "    }",
        "    track_script {",
        "        chk_haproxy",
        "    }",
        f'    notify "{_write_notify(cloud, node)}"',
        "}",
        "",
    ])  # fmt: skip


def _write_check(cloud: Cloud, node: str) -> Path:
    """The health script: this node's HAProxy answers on its admin socket."""
    script = _base(cloud, node) / "check-haproxy"
    sock = haproxy.admin_socket(cloud, node)
    script.write_text(
        "#!/bin/sh\n"
        f"echo 'show info' | socat -t1 - UNIX-CONNECT:{sock} 2>/dev/null | grep -q '^Pid:'\n"
    )
    script.chmod(0o755)
    return script


def _write_notify(cloud: Cloud, node: Node) -> Path:
    """Run at each state this node enters, to end the TCP connections a move of the VIP
    left with nowhere to go. The nodes' services reach the APIs through the VIP (nova's
    guide), so each node holds kept-alive connections to it:
    - leaving MASTER, those it made from the VIP (while it was here): once the address is
      gone their packets leave with another node's address, and each hangs until its
      client's timeout (seen: 30 s read timeouts, a conductor unseen for 180 s);
    - entering MASTER, those it made from its own address to the old holder: the VIP is
      local now, and each would be reset at its next use (seen: nova-api's glance client
      and neutron's placement client, each logging the reset as an ERROR).
    Ended at once, their clients' pools open new connections before the next request.
    Listening sockets stay: HAProxy binds the VIP on every node."""
    script = _base(cloud, node.name) / "notify"
    vip = cloud.vip
    script.write_text(
        "#!/bin/sh\n"
        "# keepalived: $1 INSTANCE, $2 its name, $3 the state entered (MASTER, BACKUP, FAULT,\n"
        "# STOP), $4 priority\n"
        f"exec >>{cloud.log_path(node, NAME)} 2>&1  # keepalived discards its scripts' output\n"
        'if [ "$3" = MASTER ]; then\n'
        f'    echo "MASTER: ending the connections from {node.address} to {vip}"\n'
        f"    exec ss -K -t -n state connected dst {vip} src {node.address}\n"
        "fi\n"
        f"ip -o addr show dev eth0 to {vip}/32 | grep -q . && exit 0  # still here\n"
        f'echo "$3: ending the connections from {vip}"\n'
        f"exec ss -K -t -n state connected src {vip}\n"
    )
    script.chmod(0o755)
    return script


def start(cloud: Cloud, node: Node) -> process.Proc:
    base = _base(cloud, node.name)
    cfg = base / "keepalived.conf"
    cfg.write_text(render(cloud, node))
    # Its own pidfiles: the defaults (/run/keepalived*.pid) would make the second node's
    # keepalived find the first's and exit, "daemon is already running". A killed one's
    # are removed first: its pid may be another process's by now.
    pidfiles = [base / "keepalived.pid", base / "vrrp.pid"]
    for pidfile in pidfiles:
        pidfile.unlink(missing_ok=True)
    argv = ["keepalived", "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
            "--vrrp", "-f", str(cfg), "-p", str(pidfiles[0]), "-r", str(pidfiles[1])]  # fmt: skip
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    proc = process.spawn(NAME, node.name, cloud.netns(node), argv, env, cloud.log_path(node, NAME))
    cloud.add_process(proc)
    return proc


def holders(cloud: Cloud) -> list[str]:
    """The balancers that have the VIP on their eth0 now (one, but for a moment after a
    failover, or none during one)."""
    return [n.name for n in cloud.scenario.balancers if netns.holds(cloud.netns(n), cloud.vip)]


def wait_elected(cloud: Cloud, timeout: float = ELECTION_S) -> str:
    """Wait until exactly one balancer holds the VIP; its name."""
    wait.until(lambda: len(holders(cloud)) == 1, timeout, "keepalived electing a VIP holder",
               interval=0.1)  # fmt: skip
    return holders(cloud)[0]
