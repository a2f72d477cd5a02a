"""The embedded topology: each node is a Linux network namespace on one bridge.

The root namespace holds the bridge and the scenario's gateway address, which is how the
harness (and its load) reach the nodes and the VIP. Infra runs inside the controller
namespace, because a namespace cannot reach the root namespace's loopback.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.errors import StepFailed
from harness.scenario import Network, Node, Scenario


def netns_name(network: Network, node: Node | str) -> str:
    """Namespaces are named after the cloud's bridge, so two clouds on different bridges
    (a developer's and the tests') never share a name."""
    return f"{network.bridge}-{node if isinstance(node, str) else node.name}"


def veth_name(network: Network, index: int) -> str:
    return f"{network.bridge[:10]}-v{index}"  # interface names are at most 15 characters


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise StepFailed(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def existing_namespaces() -> set[str]:
    out = _ip("-o", "netns", "list", check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def link_exists(name: str) -> bool:
    return _ip("link", "show", "dev", name, check=False).returncode == 0


def create_bridge(network: Network) -> None:
    _ip("link", "add", network.bridge, "type", "bridge")
    _ip("addr", "add", f"{network.gateway}/{network.prefixlen}", "dev", network.bridge)
    _ip("link", "set", network.bridge, "up")


def create_node(scenario: Scenario, index: int, node: Node) -> str:
    net = scenario.network
    ns = netns_name(net, node)
    veth = veth_name(net, index)
    _ip("netns", "add", ns)
    _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    _ip("link", "set", veth, "master", net.bridge, "up")
    _ip("-n", ns, "link", "set", "lo", "up")
    _ip("-n", ns, "addr", "add", f"{node.address}/{net.prefixlen}", "dev", "eth0")
    _ip("-n", ns, "link", "set", "eth0", "up")
    if node in scenario.balancers:
        # HAProxy binds the VIP while another node may hold it (nova's guide sets this too).
        _ip("netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1")
    if not scenario.vrrp and node in scenario.balancers:
        # One balancer: the VIP is a second address on it, and no keepalived.
        _ip("-n", ns, "addr", "add", f"{net.vip}/32", "dev", "eth0")
    return ns


def holds(ns: str, address: str) -> bool:
    """Whether `address` is on the namespace's eth0 now (keepalived's VIP)."""
    out = _ip("-n", ns, "-o", "-4", "addr", "show", "dev", "eth0", check=False).stdout
    return f" {address}/" in out


def pids_in(ns: str) -> list[int]:
    out = _ip("netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def delete_namespace(ns: str) -> None:
    if ns in existing_namespaces():
        _ip("netns", "del", ns)


def delete_link(name: str) -> None:
    if link_exists(name):
        _ip("link", "del", name)


def namespace_mounts() -> list[str]:
    """Mount points under /run/netns (one per namespace `ip netns add` made)."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    return [m.split()[1] for m in mounts if m.split()[1].startswith("/run/netns/")]
