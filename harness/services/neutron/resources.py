"""Neutron: a network and a subnet. neutron-server runs without agents here, so only what
lives in its database is created (no DHCP: nothing would serve it)."""

from __future__ import annotations

from harness.services.resources_base import changes, fetch, new_name, undo_on_error

NAME = "neutron"
CIDR = "192.0.2.0/24"  # TEST-NET-1: documentation space, never routed


def create(conn, cloud) -> dict:
    with undo_on_error(conn, cloud, destroy, {}) as state:
        network = conn.network.create_network(name=new_name("net"))
        state["network_id"] = network.id
        subnet = conn.network.create_subnet(
            name=new_name("subnet"), network_id=network.id, ip_version=4, cidr=CIDR,
            enable_dhcp=False,
        )  # fmt: skip
        state["subnet_id"] = subnet.id
        network = conn.network.get_network(network.id)  # now listing its subnet
        state["fingerprint"] = {"network": _network(network), "subnet": _subnet(subnet)}
    return state


def verify(conn, cloud, state: dict) -> list[str]:
    network, problems = fetch("network", conn.network.get_network, state["network_id"])
    subnet, gone = fetch("subnet", conn.network.get_subnet, state["subnet_id"])
    problems += gone
    if network:
        problems += changes("network", state["fingerprint"]["network"], _network(network))
    if subnet:
        problems += changes("subnet", state["fingerprint"]["subnet"], _subnet(subnet))
    return problems


def destroy(conn, cloud, state: dict) -> None:
    if state.get("subnet_id"):
        conn.network.delete_subnet(state["subnet_id"], ignore_missing=True)
    if state.get("network_id"):
        conn.network.delete_network(state["network_id"], ignore_missing=True)


def _network(n) -> dict:
    return {
        "name": n.name, "status": n.status, "admin_state_up": n.is_admin_state_up,
        "shared": n.is_shared, "mtu": n.mtu, "network_type": n.provider_network_type,
        "project_id": n.project_id, "subnet_ids": sorted(n.subnet_ids),
    }  # fmt: skip


def _subnet(s) -> dict:
    return {
        "name": s.name, "network_id": s.network_id, "cidr": s.cidr,
        "gateway_ip": s.gateway_ip, "ip_version": s.ip_version, "enable_dhcp": s.is_dhcp_enabled,
        "allocation_pools": s.allocation_pools,
    }  # fmt: skip
