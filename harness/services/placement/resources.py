"""Placement: a resource provider with an inventory of a custom resource class. After the
roll the provider, its inventory and its generation (bumped by any write) are unchanged."""

from __future__ import annotations

from contextlib import suppress

from openstack import exceptions

from harness.services.resources_base import changes, fetch, new_name, undo_on_error

NAME = "placement"
RESOURCE_CLASS = "CUSTOM_UH_RES"
INVENTORY = {"total": 8, "reserved": 1, "min_unit": 1, "max_unit": 4, "step_size": 1,
             "allocation_ratio": 1.5}  # fmt: skip


def create(conn, cloud) -> dict:
    with undo_on_error(conn, cloud, destroy, {}) as state:
        _ensure_resource_class(conn)
        provider = conn.placement.create_resource_provider(name=new_name("provider"))
        state["provider_id"] = provider.id
        conn.placement.create_resource_provider_inventory(provider, RESOURCE_CLASS, **INVENTORY)
        # The generation after the inventory write: nothing may write to it afterwards.
        state["fingerprint"] = _provider(conn, conn.placement.get_resource_provider(provider.id))
    return state


def verify(conn, cloud, state: dict) -> list[str]:
    get = conn.placement.get_resource_provider
    provider, problems = fetch("resource provider", get, state["provider_id"])
    if provider:
        problems += changes("resource provider", state["fingerprint"], _provider(conn, provider))
    return problems


def destroy(conn, cloud, state: dict) -> None:
    if state.get("provider_id"):
        conn.placement.delete_resource_provider(state["provider_id"], ignore_missing=True)
    # The class is the harness's own; placement refuses (409) while another provider uses it.
    with suppress(exceptions.ConflictException):
        conn.placement.delete_resource_class(RESOURCE_CLASS, ignore_missing=True)


def _ensure_resource_class(conn) -> None:
    try:
        conn.placement.get_resource_class(RESOURCE_CLASS)
    except exceptions.NotFoundException:
        conn.placement.create_resource_class(name=RESOURCE_CLASS)


def _provider(conn, provider) -> dict:
    inventories = {
        inv.resource_class: {key: getattr(inv, key) for key in INVENTORY}
        for inv in conn.placement.resource_provider_inventories(provider)
    }
    return {
        "name": provider.name, "generation": provider.generation,
        "parent_provider_id": provider.parent_provider_id,
        "root_provider_id": provider.root_provider_id, "inventories": inventories,
    }  # fmt: skip
