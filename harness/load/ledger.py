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
    request_id: str | None = None
    max_version: str | None = None  # version documents: the max microversion offered
    fresh_connection: bool = False
    api: str | None = None  # the API process it was sent to ("neutron-api"), from the registry

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
    """An asynchronous operation the API accepted (a server create, a delete)."""

    client: str
    kind: str  # "server-create" | "server-delete"
    server_id: str
    request_id: str | None
    accepted: float
    finished: float | None
    final: str  # "ACTIVE", "DELETED", "ERROR", or "pending" when the load stopped first
    extra: dict = field(default_factory=dict)


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
            operations.append(Operation(**data))
    return requests, operations


def outcomes(operations: list[Operation]) -> list[Operation]:
    """The last word on each operation: the settle phase (load/settle.py) appends a later
    record for one the load left pending."""
    last = {}
    for op in operations:
        last[(op.kind, op.server_id)] = op
    return sorted(last.values(), key=lambda op: op.accepted)


def version_key(version: str | None) -> tuple[int, int]:
    """ "2.103" → (2, 103), so 2.103 sorts above 2.99."""
    if not version:
        return (0, 0)
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)
