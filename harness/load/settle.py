"""After the load stops: follow every operation it left pending to its final state, within
one bound for all, and append the outcome to the ledger. The load's users stop waiting
when asked to stop, so the run does not wait minutes for them; the settling happens here,
once, with the API as an operator would use it. Servers left by a settled create are
deleted (cleanup, not judged)."""

from __future__ import annotations

import time
from pathlib import Path

import openstack

from harness import wait
from harness.backends import CloudView, openstack_api
from harness.errors import StepFailed
from harness.load import ledger
from harness.load.ledger import Operation
from harness.progress import log

FINALS = {"server-create": {"ACTIVE", "ERROR"}, "server-delete": {"DELETED"}}


def settle(cloud: CloudView, path: Path, bound: float = 120) -> dict:
    if not path.exists():
        return {"pending": 0, "settled": 0}
    pending = [op for op in ledger.outcomes(ledger.read(path)[1]) if op.final == "pending"]
    if not pending:
        return {"pending": 0, "settled": 0}
    log.info("settling %d operations the load left pending (bound %.0f s)", len(pending), bound)
    conn = openstack_api.admin(cloud)
    deadline = time.time() + bound
    settled = 0
    with open(path, "a") as out:
        for op in pending:
            final = _wait(conn, op, deadline)
            now = time.time()
            extra = {"settled": True, **({"given_up": now} if final == "pending" else {})}
            out.write(ledger.dump(Operation(op.client, op.kind, op.server_id, op.request_id,
                                            op.accepted, None if final == "pending" else now,
                                            final, extra)) + "\n")  # fmt: skip
            settled += final != "pending"
            if op.kind == "server-create":
                conn.compute.delete_server(op.server_id, ignore_missing=True)
    return {"pending": len(pending), "settled": settled}


def _status(conn, server_id: str) -> str:
    try:
        return conn.compute.get_server(server_id).status
    except openstack.exceptions.NotFoundException:
        return "DELETED"


def _wait(conn, op: Operation, deadline: float) -> str:
    """The operation's final status, or "pending" if it has none by `deadline`."""
    seen = {"status": "pending"}

    def final() -> bool:
        try:
            seen["status"] = _status(conn, op.server_id)
        except openstack.exceptions.SDKException:
            seen["status"] = "unknown"  # an API hiccup while settling is not the op's fault
        return seen["status"] in FINALS[op.kind]

    try:
        wait.until(final, max(0.0, deadline - time.time()), f"{op.kind} {op.server_id}", 1.0)
    except StepFailed:
        return "pending"
    return seen["status"]
