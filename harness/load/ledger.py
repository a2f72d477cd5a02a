"""The request ledger: one JSON object per line, written by the load worker, read by the
oracles. Nothing here imports locust."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# A ledger from before requests carried their API names only the project ("nova GET /"),
# whose API process is "<project>-api" (a unit test ties the convention to the registry).
API_SUFFIX = "-api"


@dataclass(frozen=True)
class Request:
    client: str  # the locust user that sent it (one keep-alive session per user)
    sent: float  # epoch seconds
    received: float  # epoch seconds: response complete, or the error raised
    method: str
    name: str  # e.g. "nova GET /v2.1/servers/detail"
    status: int | None  # None: no HTTP answer (connection refused, reset, timeout)
    expected: tuple[int, ...] = (200,)  # the answers that are right for this request
    error: str | None = None
    backend: str | None = None  # HAProxy's X-Backend-Server header
    request_id: str | None = None  # the API's own id for it (X-OpenStack-Request-Id)
    max_version: str | None = None  # version documents: the max microversion offered
    fresh_connection: bool = False
    api: str | None = None  # the API process it was sent to ("neutron-api"), from the registry
    global_request_id: str | None = None  # the load's, sent with it; in its RPC messages

    @property
    def api_process(self) -> str:
        """The API process it went to, also for a ledger from before requests had `api`."""
        return self.api or self.name.split()[0] + API_SUFFIX

    @property
    def failed(self) -> bool:
        """5xx, no answer at all, or a 4xx that is not the expected answer."""
        return self.status is None or self.status not in self.expected


@dataclass(frozen=True)
class Operation:
    """An asynchronous operation the API accepted (a server create, a volume attach, ...)."""

    client: str
    kind: str  # "<resource>-<verb>", e.g. "server-create", "volume-attach" (load/settle.py)
    resource_id: str  # the server's or the volume's id
    request_id: str | None
    accepted: float
    finished: float | None
    final: str  # its status at the end ("ACTIVE", "in-use", "DELETED", "ERROR", ...), or
    # "pending" when the load stopped first
    extra: dict = field(default_factory=dict)


# Each operation the load records: the status that means it completed, and every status
# that ends it (the load and the settle phase wait for one of those). An attach or a detach
# nova rolled back ends with the volume as it was before.
BINDING_FAILED = "binding_failed"  # a port no mechanism driver could bind: it ends there

DONE = {
    "server-create": "ACTIVE", "server-delete": "DELETED",
    "volume-create": "available", "volume-attach": "in-use", "volume-detach": "available",
    "volume-delete": "DELETED", "port-up": "ACTIVE",
}  # fmt: skip
FINALS = {
    # a delete its compute failed leaves the server in ERROR: that ends it (not done)
    "server-create": {"ACTIVE", "ERROR"}, "server-delete": {"DELETED", "ERROR"},
    "volume-create": {"available", "error"},
    "volume-attach": {"in-use", "available", "error", "error_attaching"},
    "volume-detach": {"available", "in-use", "error", "error_detaching"},
    "volume-delete": {"DELETED", "error", "error_deleting"},
    "port-up": {"ACTIVE", "ERROR", "DELETED", BINDING_FAILED},
}  # fmt: skip


def server_state(status: str | None, task_state: str | None) -> str | None:
    """A server's state as the ledger waits on it: its status, and the task still running
    on it, if any. A server in ERROR whose delete is running ("ERROR (deleting)") has not
    ended: seen, a build its compute set to ERROR just after the load saw it ACTIVE, then
    deleted — the delete succeeded, and ending it on that ERROR blamed the delete."""
    return f"{status} ({task_state})" if status and task_state else status


def port_state(status: str | None, vif_type: str | None) -> str | None:
    """A port's state as the ledger waits on it: its status, or `binding_failed` when ML2
    could not bind it (its `binding:vif_type`; it stays DOWN for good)."""
    return BINDING_FAILED if vif_type == BINDING_FAILED else status


# A delete's first look finding the server like this: it was in ERROR before the delete.
ERROR_BEFORE_DELETE = server_state("ERROR", "deleting")

# A deleted server in ERROR with no task left may still be on its way out: the failing
# build's own error handling, racing the delete, cleared the delete's task (seen: ERROR
# 2.2 s after the delete was accepted, and nova deleted it 3 s later). ERROR ends a delete
# once it has held this long.
ERROR_HOLDS_S = 15.0


def ends(kind: str, status: str | None, held_s: float) -> bool:
    """Whether `status`, seen for `held_s` seconds, ends an operation of `kind`."""
    if status not in FINALS[kind]:
        return False
    return kind != "server-delete" or status != "ERROR" or held_s >= ERROR_HOLDS_S


class Held:
    """How long the status an operation is watched through has been the same."""

    def __init__(self, now: float):
        self.status, self.since = None, now

    def seen(self, status: str | None, now: float) -> float:
        if status != self.status:
            self.status, self.since = status, now
        return now - self.since


def dump(record) -> str:
    what = "request" if isinstance(record, Request) else "operation"
    return json.dumps({"record": what, **asdict(record)}, sort_keys=True)


def read(path: Path) -> tuple[list[Request], list[Operation]]:
    requests, operations = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        if data.pop("record") == "request":
            data["expected"] = tuple(data["expected"])
            requests.append(Request(**data))
        else:
            if "server_id" in data:  # a ledger written before volumes were in the load
                data["resource_id"] = data.pop("server_id")
            operations.append(Operation(**data))
    return requests, operations


def outcomes(operations: list[Operation]) -> list[Operation]:
    """The last word on each operation: the settle phase (load/settle.py) appends a later
    record for one the load left pending."""
    last = {}
    for op in operations:
        last[(op.kind, op.resource_id)] = op
    return sorted(last.values(), key=lambda op: op.accepted)


def version_key(version: str | None) -> tuple[int, int]:
    """ "2.103" → (2, 103), so 2.103 sorts above 2.99."""
    if not version:
        return (0, 0)
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)
