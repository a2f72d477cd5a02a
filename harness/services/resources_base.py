"""What every resource plugin shares: names, fingerprint comparison, undo on a failed create."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from openstack import exceptions

PREFIX = "uh-res-"


def new_name(kind: str) -> str:
    # A fresh suffix per create: a cloud kept across runs (--keep) must not make names clash.
    return f"{PREFIX}{kind}-{secrets.token_hex(3)}"


def changes(what: str, before: dict, after: dict) -> list[str]:
    """One problem per field whose value differs from the fingerprint taken at creation."""
    return [
        f"{what}: {key} changed from {before[key]!r} to {after.get(key)!r}"
        for key in before
        if after.get(key) != before[key]
    ]


def fetch(what: str, get: Callable, *args) -> tuple[object | None, list[str]]:
    """The resource, or None and the problem saying it is gone."""
    try:
        return get(*args), []
    except exceptions.NotFoundException:
        return None, [f"{what} {args[0]} is gone"]


@contextmanager
def undo_on_error(conn, cloud, destroy: Callable, state: dict) -> Iterator[dict]:
    """Fill `state` while creating; if creating fails, destroy what was made, then raise."""
    try:
        yield state
    except BaseException:
        with suppress(Exception):
            destroy(conn, cloud, state)
        raise
