"""The settle phase: operations the load left pending, each followed to its final state
within the bound from its own acceptance, with the API an operator would use."""

from __future__ import annotations

import time
from types import SimpleNamespace

import openstack

from harness.load import ledger, settle
from harness.load.ledger import Operation


class Cloud:
    """What settle asks of the API: a server's and a volume's status."""

    def __init__(self, servers: dict, volumes: dict):
        self.deleted = []

        def get(table):
            def getter(rid):
                if rid not in table:
                    raise openstack.exceptions.NotFoundException()
                status, _, task = table[rid].partition(" ")  # "ERROR deleting": a task runs
                return SimpleNamespace(status=status, task_state=task or None)

            return getter

        def delete(rid, **_):
            if volumes.get(rid) == "creating":  # cinder: 400, not while it is creating
                raise openstack.exceptions.BadRequestException("Invalid volume")
            self.deleted.append(rid)

        self.compute = SimpleNamespace(get_server=get(servers), delete_server=delete)
        self.block_storage = SimpleNamespace(get_volume=get(volumes), delete_volume=delete)


def settled(tmp_path, monkeypatch, ops, conn, bound=120):
    """(what settle returned, the ledger's outcomes, the time each wait was given)."""
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(ledger.dump(op) + "\n" for op in ops))
    monkeypatch.setattr(settle.openstack_api, "admin", lambda cloud: conn)
    monkeypatch.setattr(settle, "GRACE", 0.3)
    given = []
    real = settle.wait.until

    def until(pred, timeout, *args):
        given.append(timeout)
        return real(pred, timeout, *args)

    monkeypatch.setattr(settle.wait, "until", until)
    done = settle.settle(None, path, bound)
    return done, ledger.outcomes(ledger.read(path)[1]), given


def test_each_resource_is_read_from_its_own_api_and_left_ones_cleaned_up(tmp_path, monkeypatch):
    now = time.time()
    ops = [Operation("w", "server-create", "s1", "r1", now, None, "pending"),
           Operation("w", "volume-create", "v1", "r2", now, None, "pending"),
           Operation("w", "volume-delete", "v2", "r3", now, None, "pending")]  # fmt: skip
    conn = Cloud({"s1": "ACTIVE"}, {"v1": "available"})
    done, outcomes, given = settled(tmp_path, monkeypatch, ops, conn)
    assert done == {"pending": 3, "settled": 3}
    assert all(110 < t <= 120 for t in given)  # just accepted: the whole bound
    assert [op.final for op in outcomes] == ["ACTIVE", "available", "DELETED"]
    assert conn.deleted == ["s1", "v1"]  # what a settled create left behind


def test_an_operation_accepted_long_before_gets_its_grace_not_the_bound(tmp_path, monkeypatch):
    long_ago = time.time() - 600  # lost minutes before the load stopped
    ops = [Operation("w", "server-create", "s1", "r1", long_ago, None, "pending")]
    conn = Cloud({"s1": "BUILD"}, {})
    done, outcomes, given = settled(tmp_path, monkeypatch, ops, conn, bound=120)
    assert done == {"pending": 1, "settled": 0} and outcomes[0].final == "pending"
    assert outcomes[0].extra["settled"] and "given_up" in outcomes[0].extra
    assert given and given[0] <= 0.3  # its grace, not 120 s more


def test_a_volume_left_creating_does_not_stop_the_others_settling(tmp_path, monkeypatch):
    now = time.time()
    ops = [Operation("burst", "volume-create", "v1", None, now - 600, None, "pending"),
           Operation("w", "server-create", "s1", "r1", now, None, "pending")]  # fmt: skip
    conn = Cloud({"s1": "ACTIVE"}, {"v1": "creating"})  # cinder-volume died holding it
    done, outcomes, _ = settled(tmp_path, monkeypatch, ops, conn)
    assert done == {"pending": 2, "settled": 1}
    assert {op.resource_id: op.final for op in outcomes} == {"v1": "pending", "s1": "ACTIVE"}
    assert conn.deleted == ["s1"]


def test_a_server_in_error_is_not_ended_while_its_delete_runs(tmp_path, monkeypatch):
    now = time.time()
    ops = [Operation("w", "server-delete", "s2", "r2", now, None, "pending"),
           Operation("w", "server-delete", "s1", "r1", now, None, "pending")]  # fmt: skip
    # s2: a delete its compute failed; s1: ERROR before its delete, which still runs
    conn = Cloud({"s1": "ERROR deleting", "s2": "ERROR"}, {})
    monkeypatch.setattr(ledger, "ERROR_HOLDS_S", 0.5)  # ERROR that held this long ends it
    done, outcomes, _ = settled(tmp_path, monkeypatch, ops, conn, bound=2)
    assert done == {"pending": 2, "settled": 1}
    assert {op.resource_id: op.final for op in outcomes} == {"s1": "pending", "s2": "ERROR"}


def test_a_delete_ends_in_error_only_once_the_error_has_held():
    # nova cleared a racing build's task and deleted the server 3 s later: not an ERROR yet
    assert not ledger.ends("server-delete", "ERROR", 2.2)
    assert ledger.ends("server-delete", "ERROR", ledger.ERROR_HOLDS_S)
    assert ledger.ends("server-create", "ERROR", 0)  # a failed build ends at once
    assert not ledger.ends("server-delete", "ERROR (deleting)", 60)
