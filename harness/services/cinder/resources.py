"""Cinder: a volume left detached, and a volume attached through nova to a server of its
own (on the harness's tiny image and flavor). After the roll both must be there
unchanged: the detached one available, the attached one in-use on the same server, which
nova still lists with the same device."""

from __future__ import annotations

from harness.services.nova import smoke
from harness.services.resources_base import changes, fetch, new_name, undo_on_error

NAME = "cinder"
TIMEOUT = 180


def create(conn, cloud) -> dict:
    with undo_on_error(conn, cloud, destroy, {}) as state:
        loose = _volume(conn, "volume")
        state["volume_id"] = loose.id
        attached = _volume(conn, "attached")
        state["attached_id"] = attached.id
        image_id, flavor_id = smoke.ensure_image_and_flavor(conn)  # the harness's: kept
        server = conn.compute.create_server(
            name=new_name("vm"), image_id=image_id, flavor_id=flavor_id, networks="none"
        )
        state["server_id"] = server.id
        conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=1,
                                     wait=TIMEOUT)  # fmt: skip
        conn.compute.create_volume_attachment(server.id, volume_id=attached.id)
        attached = conn.block_storage.wait_for_status(
            attached, status="in-use", failures=["error", "error_attaching"], interval=1,
            wait=TIMEOUT,
        )  # fmt: skip
        state["fingerprint"] = {
            "volume": _fields(conn.block_storage.get_volume(loose.id)),
            "attached": _fields(attached),
            "attachment": _attachment(conn, server.id, attached.id),
        }
    return state


def verify(conn, cloud, state: dict) -> list[str]:
    before = state["fingerprint"]
    loose, problems = fetch("volume", conn.block_storage.get_volume, state["volume_id"])
    attached, gone = fetch("volume", conn.block_storage.get_volume, state["attached_id"])
    problems += gone
    if loose:
        problems += changes(f"volume {loose.id}", before["volume"], _fields(loose))
    if attached:
        problems += changes(f"volume {attached.id}", before["attached"], _fields(attached))
        now = _attachment(conn, state["server_id"], attached.id)
        problems += changes(f"attachment of {attached.id}", before["attachment"], now)
    return problems


def destroy(conn, cloud, state: dict) -> None:
    if state.get("server_id"):  # deleting the server detaches its volume
        server = conn.compute.find_server(state["server_id"], ignore_missing=True)
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, interval=1, wait=TIMEOUT)
    for key in ("attached_id", "volume_id"):
        if state.get(key):
            volume = conn.block_storage.find_volume(state[key], ignore_missing=True)
            if volume is not None:
                conn.block_storage.wait_for_status(
                    volume, status="available", failures=["error"], interval=1, wait=TIMEOUT
                )
                conn.block_storage.delete_volume(volume, ignore_missing=True)
                conn.block_storage.wait_for_delete(volume, interval=1, wait=TIMEOUT)


def _volume(conn, kind: str):
    volume = conn.block_storage.create_volume(name=new_name(kind), size=1)
    return conn.block_storage.wait_for_status(volume, status="available", failures=["error"],
                                              interval=1, wait=TIMEOUT)  # fmt: skip


def _fields(v) -> dict:
    attachments = [a.get("server_id") for a in v.attachments or []]
    return {
        "name": v.name, "status": v.status, "size": v.size, "volume_type": v.volume_type,
        "host": v.host, "bootable": v.is_bootable, "multiattach": v.is_multiattach,
        "attached_to": sorted(attachments),
    }  # fmt: skip


def _attachment(conn, server_id: str, volume_id: str) -> dict:
    """Nova's side of the attachment: the device it gave the volume on the server."""
    for a in conn.compute.volume_attachments(server_id):
        if a.volume_id == volume_id:
            return {"server": server_id, "device": a.device}
    return {"server": None, "device": None}
