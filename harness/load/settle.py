"""After the load stops: follow every operation it left pending to its final state, each
within the bound from the moment the API accepted it (as long as the load itself would
have waited), but never less than GRACE from now, and append the outcome to the ledger. A
server build lost minutes before the load stopped is not waited for another two minutes
(a run with one took 120 s longer for nothing). The load's users stop waiting
when asked to stop, so the run does not wait minutes for them; the settling happens here,
once, with the API as an operator would use it. Servers and volumes left by a settled
create are deleted (cleanup, not judged)."""

from __future__ import annotations

import time
from pathlib import Path

import openstack

from harness import wait
from harness.backends import CloudView, openstack_api
from harness.errors import StepFailed
from harness.load import ledger
from harness.load.ledger import Held, Operation, ends, port_state, server_state
from harness.progress import log

GRACE = 10.0  # s: what an operation already past its bound still gets to be seen final


def settle(cloud: CloudView, path: Path, bound: float = 120) -> dict:
    if not path.exists():
        return {"pending": 0, "settled": 0}
    pending = [op for op in ledger.outcomes(ledger.read(path)[1]) if op.final == "pending"]
    if not pending:
        return {"pending": 0, "settled": 0}
    log.info(
        "settling %d operations the load left pending (each within %.0f s of its acceptance)",
        len(pending),
        bound,
    )
    conn = openstack_api.admin(cloud)
    started = time.time()
    settled = 0
    with open(path, "a") as out:
        for op in pending:
            final = _wait(conn, op, max(op.accepted + bound, started + GRACE))
            now = time.time()
            extra = {"settled": True, **({"given_up": now} if final == "pending" else {})}
            out.write(ledger.dump(Operation(op.client, op.kind, op.resource_id, op.request_id,
                                            op.accepted, None if final == "pending" else now,
                                            final, extra)) + "\n")  # fmt: skip
            settled += final != "pending"
            _clean_up(conn, op)
    return {"pending": len(pending), "settled": settled}


def _clean_up(conn, op: Operation) -> None:
    """Delete what a create left, if the API lets it: a volume still "creating" cannot
    be deleted (400), and that must not keep the operations after it from settling (a
    run's settle stopped there once, leaving a build it had not looked at pending)."""
    try:
        if op.kind == "server-create":
            conn.compute.delete_server(op.resource_id, ignore_missing=True)
        elif op.kind == "volume-create":
            conn.block_storage.delete_volume(op.resource_id, ignore_missing=True)
    except openstack.exceptions.SDKException as e:
        log.warning("cleaning up after %s %s failed: %s", op.kind, op.resource_id, e)


def _status(conn, op: Operation) -> str:
    try:
        if op.kind.startswith("server-"):
            server = conn.compute.get_server(op.resource_id)
            return server_state(server.status, server.task_state)
        if op.kind.startswith("port-"):
            port = conn.network.get_port(op.resource_id)
            return port_state(port.status, port.binding_vif_type)
        return conn.block_storage.get_volume(op.resource_id).status
    except openstack.exceptions.NotFoundException:
        return "DELETED"


def _wait(conn, op: Operation, deadline: float) -> str:
    """The operation's final status, or "pending" if it has none by `deadline`."""
    seen, held = {"status": "pending"}, Held(time.time())

    def final() -> bool:
        try:
            seen["status"] = _status(conn, op)
        except openstack.exceptions.SDKException:
            seen["status"] = "unknown"  # an API hiccup while settling is not the op's fault
        return ends(op.kind, seen["status"], held.seen(seen["status"], time.time()))

    try:
        wait.until(final, max(0.0, deadline - time.time()), f"{op.kind} {op.resource_id}", 1.0)
    except StepFailed:
        return "pending"
    return seen["status"]
