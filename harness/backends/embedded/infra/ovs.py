"""Open vSwitch on every node with the `network` role, for neutron's agents: the userspace
datapath (this kernel has no openvswitch module; bridges are `datapath_type=netdev`, their
ports taps), one ovsdb-server and one ovs-vswitchd per node, in the node's namespace.

Each node's OVS has its own run directory (the daemons' sockets, a bridge's `.mgmt`
socket, which two nodes' `br-int` would otherwise share) and database; the agents find it
through OVS_RUNDIR and, for OVSDB, on the node's own loopback (tcp 127.0.0.1:6640, the
agents' default: they add that manager themselves). Both daemons and the agents run under
`nsenter --net`, not `ip netns exec`, so the namespaces the DHCP agent makes are seen by
everyone (process.netns_argv). Measured alone: bench/ovs_netns.py (10 MiB and 20 MiB RSS,
no CPU when idle: the tap netdevs are not busy-polled).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness import process, wait
from harness.errors import StepFailed

if TYPE_CHECKING:  # the cloud starts and addresses this piece of it
    from harness.backends.embedded.cloud import Cloud
    from harness.scenario import Node

DB, SWITCH = "ovsdb-server", "ovs-vswitchd"
NAMES = (DB, SWITCH)
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
START_S = 30.0  # a bound on either daemon's socket appearing (measured: 0.1 s)


def rundir(cloud: Cloud, node: Node | str) -> Path:
    return cloud.node_dir(node, "ovs")


def env(cloud: Cloud, node: Node | str) -> dict[str, str]:
    """What OVS's tools (and the agents, which run them) need to find this node's OVS."""
    d = str(rundir(cloud, node))
    return {"OVS_RUNDIR": d, "OVS_LOGDIR": d, "OVS_DBDIR": d, "OVS_SYSCONFDIR": d}


def db_socket(cloud: Cloud, node: Node | str) -> Path:
    return rundir(cloud, node) / "db.sock"


def start(cloud: Cloud, node: Node) -> None:
    d = rundir(cloud, node)
    base_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", **env(cloud, node)}
    db = d / "conf.db"
    if not db.exists():
        _run(cloud, node, ["ovsdb-tool", "create", str(db), str(SCHEMA)], base_env)
    for name in NAMES:  # a killed daemon's are stale
        (d / f"{name}.ctl").unlink(missing_ok=True)
    db_socket(cloud, node).unlink(missing_ok=True)
    _spawn(cloud, node, DB, [
        DB, str(db), f"--remote=punix:{db_socket(cloud, node)}",
        "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
        f"--unixctl={d / (DB + '.ctl')}", f"--pidfile={d / (DB + '.pid')}",
        "-vconsole:info", "-vsyslog:off"], base_env)  # fmt: skip
    _wait_socket(db_socket(cloud, node), node.name, DB)
    _run(cloud, node, ["ovs-vsctl", f"--db=unix:{db_socket(cloud, node)}", "--no-wait", "init"],
         base_env)  # fmt: skip
    _spawn(cloud, node, SWITCH, [
        SWITCH, f"unix:{db_socket(cloud, node)}", "--disable-system",
        f"--unixctl={d / (SWITCH + '.ctl')}", f"--pidfile={d / (SWITCH + '.pid')}",
        "-vconsole:info", "-vsyslog:off"], base_env)  # fmt: skip
    _wait_socket(d / f"{SWITCH}.ctl", node.name, SWITCH)


def _spawn(cloud: Cloud, node: Node, name: str, argv: list[str], env_: dict) -> None:
    proc = process.spawn(name, node.name, cloud.netns(node), argv, env_,
                         cloud.log_path(node, name), shared_mounts=True)  # fmt: skip
    cloud.add_process(proc)


def _run(cloud: Cloud, node: Node, argv: list[str], env_: dict) -> None:
    done = process.run(argv, cloud.netns(node), env_, cloud.log_path(node, "ovs-manage"), 30,
                       shared_mounts=True)  # fmt: skip
    if done.returncode != 0:
        raise StepFailed(f"{argv[0]} on {node.name} exited {done.returncode} "
                         f"(log: {cloud.log_path(node, 'ovs-manage')})")  # fmt: skip


def _wait_socket(path: Path, node: str, name: str) -> None:
    wait.until(path.exists, START_S, f"{name} on {node} listening on {path.name}", interval=0.05)
