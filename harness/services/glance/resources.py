"""Glance: a small raw image. After the roll it must be active, its size and checksums
unchanged, and its bytes, downloaded through the API, the ones uploaded."""

from __future__ import annotations

import hashlib
import os

from harness.services.resources_base import changes, fetch, new_name, undo_on_error

NAME = "glance"
SIZE = 64 * 1024  # small enough to upload in well under a second, big enough to chunk


def create(conn, cloud) -> dict:
    data = os.urandom(SIZE)  # random bytes: a store serving another image's data is caught
    with undo_on_error(conn, cloud, destroy, {}) as state:
        image = conn.image.create_image(
            name=new_name("image"), data=data, disk_format="raw", container_format="bare",
            visibility="private", use_import=False,
        )  # fmt: skip
        state["image_id"] = image.id
        image = conn.image.wait_for_status(image, status="active", failures=["killed"], wait=60)
        state["sha256"] = hashlib.sha256(data).hexdigest()
        state["fingerprint"] = _image(image)
    return state


def verify(conn, cloud, state: dict) -> list[str]:
    image, problems = fetch("image", conn.image.get_image, state["image_id"])
    if image is None:
        return problems
    problems += changes("image", state["fingerprint"], _image(image))
    if image.status != "active":
        return problems  # its bytes cannot be read; the status change is the problem
    data = conn.image.download_image(image).content
    if hashlib.sha256(data).hexdigest() != state["sha256"]:
        problems.append(f"image {image.id}: the downloaded bytes ({len(data)}) differ")
    return problems


def destroy(conn, cloud, state: dict) -> None:
    if state.get("image_id"):
        conn.image.delete_image(state["image_id"], ignore_missing=True)


def _image(image) -> dict:
    return {
        "name": image.name, "status": image.status, "size": image.size,
        "checksum": image.checksum, "os_hash_algo": image.hash_algo,
        "os_hash_value": image.hash_value, "disk_format": image.disk_format,
        "container_format": image.container_format, "visibility": image.visibility,
    }  # fmt: skip
