"""Oracle 13, rpc_pins: every RPC version cap a service chose automatically was the one its
peers allowed at that moment, and once the roll is done the caps are the newest.

nova's `[upgrade_levels] compute = auto` and cinder's caps work the same way: a process
reads what its peers recorded in the `services` table, caps what it sends to them,
caches the cap, and logs it once (again after a reset):

    Automatically selected compute RPC version 6.5 from minimum service version 72
    Automatically selected cinder-volume RPC version 3.20 as minimum service version.

Nova's peers record a service version, which the choosing process maps through its own
release's history to an RPC version; cinder's peers record the RPC version itself, per
binary (the log line names the binary, the regex's `peer` group). The run records, per
release, each pinned service's facts (`pins.json`: nova's own service version and its
history; cinder's RPC version per binary, `accepts`); the timeline says which release
every peer ran at each moment. For each selection (node, process, pid, time, peer):

- **above a live peer**: the cap exceeds the RPC version some peer running then accepts;
- **not the minimum**: what it chose from (nova: the service version; cinder: the RPC
  version) is not the lowest its peers ran then (a peer restarting in the step in progress
  may count as either side: cinder's service computes its caps before it rewrites its own
  row);
- **stale at the end**: a process still running when the roll ended whose last cap is
  below the newest, once every peer runs the target (its reset was skipped).

Where agents run, the servers' pushes of versioned objects to them are judged too
(object_pushes: each push reaches every running agent that consumes its type, in some
version; neutron's agents expose their versions no other way than by the queues they bind).

A process that never needed the cap chose none, and is not judged (it chooses at first use,
from the table as it is then). Evidence names service, node, pid, release, the cap, the
peer it breaks and the step. No pins.json: unknown (the oracle saw nothing to judge).
"""

from __future__ import annotations

import re

from harness.checks.oracles import object_pushes, service_logs
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict
from harness.load.ledger import version_key  # RPC versions are major.minor, as microversions

NAME = "rpc_pins"
UNIT = "pin choices"


def selections(logs: dict[str, str], pattern: re.Pattern, peer: str = "") -> list[dict]:
    """Every cap a process logged choosing: {node, process, pid, t, peer, rpc, service,
    first_t}; `peer` is the regex's group of that name, else the service's one peer, and
    `service` the group of that name (nova's), else None."""
    found = []
    for name, text in sorted(logs.items()):
        node, process = service_logs._names(name)
        first_seen: dict[int, float] = {}
        for raw in text.splitlines():
            line = service_logs._line(raw)
            if line is None:
                continue
            first_seen.setdefault(line.pid, line.t)
            m = pattern.search(line.text)
            if m:
                groups = m.groupdict()
                service = int(groups["service"]) if groups.get("service") else None
                found.append({"node": node, "process": process, "pid": line.pid, "t": line.t,
                              "peer": groups.get("peer") or peer, "rpc": m["rpc"],
                              "service": service, "first_t": first_seen[line.pid]})  # fmt: skip
    return found


def last_pids(logs: dict[str, str]) -> dict[tuple[str, str], int]:
    """(node, process) → the pid of its log's last line: the one running when the run ended."""
    out = {}
    for name, text in logs.items():
        node, process = service_logs._names(name)
        for raw in reversed(text.splitlines()):
            line = service_logs._line(raw)
            if line is not None:
                out[(node, process)] = line.pid
                break
    return out


def peers_at(timeline: Timeline, peer: str, t: float) -> dict[str, str]:
    """node → the release its `peer` process ran at `t` (the timeline's record then; before
    the first record, the first: the cloud as it came up)."""
    if not timeline.releases:
        return {}
    snapshot = timeline.releases_at(t) or timeline.releases[0][1]
    return {node: procs[peer] for node, procs in snapshot.items() if peer in procs}


def _release(sel: dict, timeline: Timeline) -> str | None:
    r = service_logs.LogRecord(sel["node"], sel["process"], sel["pid"], sel["t"], "INFO", "",
                               [""])  # fmt: skip
    return service_logs._release(r, timeline, sel["first_t"], "")


def _possible_minima(timeline: Timeline, peer: str, recorded, t: float) -> set:
    """The lowest of what the peers recorded at `t` (`recorded(series)`: a peer's row on
    that release, None if unknown); if a step is in progress, also as it stood when the
    step began and as it stood after (a peer restarting in it writes its row at some
    moment in between)."""
    moments = [t]
    for start, end, _ in timeline.steps:
        if start <= t <= end:
            moments += [start, end + 1e-6]
    out = set()
    for moment in moments:
        rows = [recorded(s) for s in peers_at(timeline, peer, moment).values()]
        rows = [r for r in rows if r is not None]
        if rows:
            out.add(min(rows, key=_order))
    return out


def _order(row):
    return version_key(row) if isinstance(row, str) else (row, 0)


def judge_service(service: str, pins: dict, record: RunRecord) -> tuple[list[dict], int]:
    """(violations, how many selections were judged) for one pinned service."""
    pattern = re.compile(pins["selected"])
    facts, target = pins["facts"], pins["target"]
    timeline = record.timeline
    found = selections(record.logs or {}, pattern, pins.get("peer") or "")
    bad = []
    for sel in found:
        release = _release(sel, timeline)
        step = timeline.step_at(sel["t"])
        peer = sel["peer"]
        where = {"service": service, "node": sel["node"], "process": sel["process"],
                 "pid": sel["pid"], "release": release, "t": sel["t"], "cap": sel["rpc"],
                 "peer_binary": peer, "from_service_version": sel["service"],
                 "step": step}  # fmt: skip
        running = peers_at(timeline, peer, sel["t"])
        accepts = {n: rpc for n, s in running.items() if (rpc := _own_rpc(facts, s, peer))}
        above = sorted(n for n, rpc in accepts.items()
                       if version_key(sel["rpc"]) > version_key(rpc))  # fmt: skip
        if above:
            node = above[0]
            broken = f"{peer} on {node} ({running[node]}, accepts {accepts[node]})"
            bad.append({**where, "why": "above a live peer", "peer": broken})
            continue
        by_service = sel["service"] is not None  # nova: chosen from a service version

        def recorded(series, peer=peer, by_service=by_service):
            if by_service:
                return facts[series]["service_version"] if series in facts else None
            return _own_rpc(facts, series, peer)

        minima = _possible_minima(timeline, peer, recorded, sel["t"])
        chose = sel["service"] if by_service else sel["rpc"]
        if minima and chose not in minima:
            what = "service version" if by_service else "RPC version"
            lowest = " or ".join(str(m) for m in sorted(minima, key=_order))
            bad.append({**where, "why": "not the minimum",
                        "peer": f"{peer}s' lowest {what} then: {lowest}"})  # fmt: skip
    bad += _stale(found, record, pins, target)
    return bad, len(found)


def _own_rpc(facts: dict, series: str, peer: str) -> str | None:
    """The RPC version a `peer` on `series` accepts: nova's, its own service version's entry
    in its history; cinder's, its binary's entry (None: that release is not known)."""
    f = facts.get(series)
    if f is None:
        return None
    if "accepts" in f:
        return f["accepts"].get(peer)
    return f["peer_rpc"][str(f["service_version"])]


def _stale(found: list[dict], record: RunRecord, pins: dict, target: str) -> list[dict]:
    timeline, facts = record.timeline, pins["facts"]
    if not timeline.releases or target not in facts:
        return []
    final = timeline.releases[-1][1]
    alive = last_pids(record.logs or {})
    last: dict[tuple, dict] = {}
    for sel in found:
        if alive.get((sel["node"], sel["process"])) == sel["pid"]:
            last[(sel["node"], sel["process"], sel["peer"])] = sel
    out = []
    for sel in last.values():
        peer = sel["peer"]
        if any(procs.get(peer) != target for procs in final.values() if peer in procs):
            continue  # not every peer on the target: nothing says the caps must have risen
        newest = _own_rpc(facts, target, peer)
        if newest and version_key(sel["rpc"]) < version_key(newest):
            out.append({"service": pins["service"], "node": sel["node"],
                        "process": sel["process"], "pid": sel["pid"],
                        "release": _release(sel, timeline), "t": sel["t"], "cap": sel["rpc"],
                        "peer_binary": peer, "from_service_version": sel["service"],
                        "step": timeline.step_at(sel["t"]), "why": "stale at the end",
                        "peer": f"every {peer} on {target}, which accepts {newest}"})  # fmt: skip
    return out


def check(record: RunRecord) -> Verdict:
    if record.pins is None or record.logs is None:
        return Verdict(NAME, UNKNOWN, "no pin facts or no logs recorded: nothing to judge")
    bad, judged, missed, pushed = [], 0, [], 0
    for service, pins in sorted(record.pins.items()):
        if "exchange" in pins:  # "<service> pushes": its servers' pushes to its agents
            if record.bus is not None:
                found, n = object_pushes.judge({**pins, "service": service}, record)
                missed, pushed = missed + found, pushed + n
            continue
        found, n = judge_service(service, {**pins, "service": service}, record)
        bad += found
        judged += n
    counts = {"selections": judged, "violations": len(bad)}
    if pushed:
        counts |= {"agent_pushes": pushed, "pushes_missed": len(missed)}
    if not judged and not pushed:
        return Verdict(NAME, UNKNOWN, "no process logged choosing an RPC cap", counts)
    pushes = f"; {pushed} object pushes to running agents, each reaching them" if pushed else ""
    if bad:
        first = bad[0]
        return Verdict(NAME, FAIL,
                       f"{len(bad)} of {judged} automatic RPC caps wrong; first: "
                       f"{first['process']} on {first['node']} ({first['release']}) chose "
                       f"{first['cap']}, "
                       f"{first['why']}: {first['peer']}, during {first['step']}",
                       counts, bad + missed)  # fmt: skip
    if missed:
        first = missed[0]
        return Verdict(NAME, FAIL,
                       f"{len(missed)} of {pushed} object pushes missed a running agent; "
                       f"first: a {first['type']} push to {', '.join(first['pushed'])} "
                       f"reached no queue of {first['process']} on {first['node']} "
                       f"({first['release']}, consuming {', '.join(first['consumed'])}), "
                       f"during {first['step']}",
                       counts, missed)  # fmt: skip
    return Verdict(NAME, PASS, f"{judged} automatic RPC caps, each the one its peers allowed"
                   f"{pushes}", counts)  # fmt: skip
