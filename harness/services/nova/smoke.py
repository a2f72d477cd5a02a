"""A first server: what proves the cloud works end to end before anything is rolled.

Uploads a tiny image, creates a flavor, boots a server with "networks": "none" (nothing
binds ports without neutron agents), waits for ACTIVE, deletes it and waits until it is gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.backends import CloudView, openstack_api
from harness.progress import log

IMAGE = "harness-tiny"
FLAVOR = "harness.tiny"


@dataclass(frozen=True)
class SmokeResult:
    server_id: str
    active_after: float  # seconds from create to ACTIVE
    deleted_after: float


def ensure_image_and_flavor(conn) -> tuple[str, str]:
    image = conn.image.find_image(IMAGE)
    if image is None:
        # The fake virt driver never reads the bytes; a small raw image is enough.
        image = conn.image.create_image(
            name=IMAGE, data=b"\0" * 1024, disk_format="raw", container_format="bare",
            visibility="public", use_import=False,
        )  # fmt: skip
    flavor = conn.compute.find_flavor(FLAVOR)
    if flavor is None:
        flavor = conn.compute.create_flavor(name=FLAVOR, ram=64, vcpus=1, disk=1)
    return image.id, flavor.id


LOAD_NETWORK, LOAD_CIDR = "uh-load", "198.51.100.0/24"  # TEST-NET-2: never routed


def ensure_load_network(conn) -> str:
    """The shared network the load's servers boot on where neutron has agents: each
    server's port is bound to its compute's host by ML2 and served by the DHCP agent."""
    network = conn.network.find_network(LOAD_NETWORK)
    if network is None:
        network = conn.network.create_network(name=LOAD_NETWORK, is_shared=True)
        conn.network.create_subnet(name=LOAD_NETWORK, network_id=network.id, ip_version=4,
                                   cidr=LOAD_CIDR, enable_dhcp=True)  # fmt: skip
    return network.id


def boot_and_delete(cloud: CloudView, timeout: float = 180) -> SmokeResult:
    conn = openstack_api.admin(cloud)
    image_id, flavor_id = ensure_image_and_flavor(conn)
    started = time.monotonic()
    server = conn.compute.create_server(
        name=f"smoke-{int(time.time())}", image_id=image_id, flavor_id=flavor_id, networks="none"
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"],
                                          interval=1, wait=timeout)  # fmt: skip
    active = time.monotonic() - started
    log.info("server %s ACTIVE on %s after %.1f s", server.id, server.compute_host, active)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=1, wait=timeout)
    deleted = time.monotonic() - started
    log.info("server %s deleted after %.1f s", server.id, deleted)
    return SmokeResult(server.id, active, deleted)
