"""Nova: a flavor, a keypair (public key generated here) and a server booted with
"networks": "none" on the harness's tiny image. After the roll the server must still be
ACTIVE on the same host with the same flavor, image, key and power state."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from harness.services.nova import smoke
from harness.services.resources_base import changes, fetch, new_name, undo_on_error

NAME = "nova"
BOOT_TIMEOUT = 180


def create(conn, cloud) -> dict:
    with undo_on_error(conn, cloud, destroy, {}) as state:
        flavor = conn.compute.create_flavor(name=new_name("flavor"), ram=64, vcpus=1, disk=1)
        state["flavor_id"] = flavor.id
        public_key = _public_key()
        keypair = conn.compute.create_keypair(name=new_name("key"), public_key=public_key)
        state["keypair"] = keypair.name
        if keypair.fingerprint != _fingerprint(public_key):
            raise RuntimeError(f"nova fingerprinted keypair {keypair.name} differently")
        image_id, _ = smoke.ensure_image_and_flavor(conn)  # the harness's, shared: kept
        server = conn.compute.create_server(
            name=new_name("server"), image_id=image_id, flavor_id=flavor.id,
            key_name=keypair.name, networks="none",
        )  # fmt: skip
        state["server_id"] = server.id
        server = conn.compute.wait_for_server(
            server, status="ACTIVE", failures=["ERROR"], interval=1, wait=BOOT_TIMEOUT
        )
        state["fingerprint"] = {
            "flavor": _flavor(flavor),
            "keypair": _keypair(keypair),
            "server": _server(server),
        }
    return state


def verify(conn, cloud, state: dict) -> list[str]:
    before = state["fingerprint"]
    flavor, problems = fetch("flavor", conn.compute.get_flavor, state["flavor_id"])
    keypair, gone = fetch("keypair", conn.compute.get_keypair, state["keypair"])
    server, lost = fetch("server", conn.compute.get_server, state["server_id"])
    problems += gone + lost
    if flavor:
        problems += changes("flavor", before["flavor"], _flavor(flavor))
    if keypair:
        problems += changes("keypair", before["keypair"], _keypair(keypair))
    if server:
        problems += changes(f"server {server.id}", before["server"], _server(server))
    return problems


def destroy(conn, cloud, state: dict) -> None:
    if state.get("server_id"):
        server = conn.compute.find_server(state["server_id"], ignore_missing=True)
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, interval=1, wait=BOOT_TIMEOUT)
    if state.get("keypair"):
        conn.compute.delete_keypair(state["keypair"], ignore_missing=True)
    if state.get("flavor_id"):
        conn.compute.delete_flavor(state["flavor_id"], ignore_missing=True)


def _public_key() -> str:
    # The private half is dropped: nothing logs into a fake-driver server.
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    openssh = serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    return key.public_bytes(*openssh).decode()


def _fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an SSH key: the MD5 of the key blob, as colon-separated hex."""
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _flavor(f) -> dict:
    return {"name": f.name, "ram": f.ram, "vcpus": f.vcpus, "disk": f.disk,
            "swap": f.swap, "ephemeral": f.ephemeral, "is_public": f.is_public}  # fmt: skip


def _keypair(k) -> dict:
    return {"name": k.name, "fingerprint": k.fingerprint, "public_key": k.public_key}


def _server(s) -> dict:
    # The embedded flavor (microversion 2.47+) names the flavor the server was built from.
    # power_state is the hypervisor's word: a compute restart that loses the guest shows
    # here (the fake driver keeps guests in memory only; its power-state sync then says 0).
    flavor = s.flavor or {}
    return {
        "name": s.name, "status": s.status, "vm_state": s.vm_state,
        "power_state": s.power_state, "task_state": s.task_state,
        "flavor": {k: flavor.get(k) for k in ("original_name", "ram", "vcpus", "disk")},
        "image_id": (s.image or {}).get("id"), "key_name": s.key_name,
        "compute_host": s.compute_host, "hypervisor_hostname": s.hypervisor_hostname,
    }  # fmt: skip
