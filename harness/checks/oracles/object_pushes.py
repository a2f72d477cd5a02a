"""Part of oracle 13, rpc_pins: neutron's version contract with its agents, on the bus.

A neutron server pushes each changed object (a Port, a Network, …) to one fanout exchange
per version its agents reported, `neutron-vo-Port-1.10_fanout`, `…-1.11_fanout`, and each
agent's cache consumes the version it knows. A server that forgot an old agent's version
(or an old server that cannot make a new agent's) leaves that agent's cache stale, and the
ports it wires with it. Nothing is lost on the bus (each publish reaches the queues bound
to its exchange), so the bus ledger does not see it; this does:

- the **pushes**: the publishes to those exchanges, one push being those a server made for
  one request and type within a second of each other, whatever their versions;
- an agent **consumes** a type on a node from the first push of it delivered to a queue on
  that node (the delivery's connection says which node);
- every push of a type must reach a queue on each node whose agent consumes it and runs
  then (the timeline's releases), unless that agent is restarting in the step in progress
  (it resynchronises as it starts). A push that reached none is a violation: the versions
  it went to and the versions that agent had been getting.
"""

from __future__ import annotations

import re

from harness.checks.record import RunRecord

GAP_S = 1.0  # publishes of one server, request and type closer than this are one push


def judge(entry: dict, record: RunRecord) -> tuple[list[dict], int]:
    """(violations, pushes judged per consuming node) for one service's `entry` in
    pins.json: {exchange, consumers, nodes: {address: name}}."""
    exchange = re.compile(entry["exchange"])
    nodes, consumers = entry["nodes"], entry["consumers"]
    owner, versions, since = consumed(record.bus or [], exchange, nodes)
    bad, judged = [], 0
    for push in pushes(record.bus or [], exchange):
        reached = {owner[q] for p in push["publishes"] for q in p.get("routed_queues") or []
                   if q in owner}  # fmt: skip
        for (node, kind), t0 in since.items():
            if kind != push["type"] or push["t"] < t0:
                continue
            agent = _running(record, node, consumers, push["t"])
            if agent is None:
                continue
            judged += 1
            step = record.timeline.step_at(push["t"])
            if node in reached or _restarting(step, agent, node):
                continue
            bad.append({
                "service": entry.get("service"), "node": node, "process": agent,
                "release": record.timeline.release_at(node, agent, push["t"]),
                "t": push["t"], "step": step, "type": kind,
                "pushed": sorted({p["version"] for p in push["publishes"]}),
                "consumed": _before(versions[(node, kind)], push["t"]),
                "request_id": push["request_id"],
                "why": "a push missed a running agent",
            })  # fmt: skip
    return bad, judged


def consumed(bus: list[dict], exchange: re.Pattern, nodes: dict[str, str]):
    """From the deliveries: queue → node; (node, type) → [(when, version)] it got; (node,
    type) → when it first got one."""
    owner, versions, since = {}, {}, {}
    for r in bus:
        m = exchange.match(r.get("queue") or "") if r.get("kind") == "deliver" else None
        if not m:
            continue
        address = r.get("connection", "").split(":")[0]
        node = nodes.get(address, address)
        owner[r["queue"]] = node
        key = (node, m["type"])
        versions.setdefault(key, []).append((r["t"], m["version"]))
        since[key] = min(since.get(key, r["t"]), r["t"])
    return owner, versions, since


def pushes(bus: list[dict], exchange: re.Pattern) -> list[dict]:
    """The publishes to the exchanges, grouped into pushes, in time order."""
    out, open_ = [], {}
    for r in sorted((r for r in bus if r.get("kind") == "publish"), key=lambda r: r["t"]):
        m = exchange.fullmatch(r.get("exchange") or "")
        if not m:
            continue
        key = (r.get("connection"), r.get("request_id"), m["type"])
        push = open_.get(key)
        if push is None or r["t"] - push["last"] > GAP_S:
            push = {"t": r["t"], "type": m["type"], "request_id": r.get("request_id"),
                    "publishes": [], "last": r["t"]}  # fmt: skip
            out.append(push)
            open_[key] = push
        push["publishes"].append({**r, "version": m["version"]})
        push["last"] = r["t"]
    return out


def _before(got: list[tuple[float, str]], t: float) -> list[str]:
    """The versions a node had been getting before `t`."""
    return sorted({version for when, version in got if when < t})


def _running(record: RunRecord, node: str, consumers: list[str], t: float) -> str | None:
    timeline = record.timeline
    procs = timeline.releases_at(t) or (timeline.releases[0][1] if timeline.releases else {})
    return next((c for c in consumers if c in procs.get(node, {})), None)


def _restarting(step: str | None, agent: str, node: str) -> bool:
    return (
        bool(step) and re.match(rf"\S+ {re.escape(agent)} on {re.escape(node)}:", step) is not None
    )
