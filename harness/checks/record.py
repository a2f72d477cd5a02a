"""Everything a run recorded, as the oracles read it: the request ledger, the runner's
events, the bus trace, the resources' and hosts' checks. Loaded from a run folder, so a
run can be judged again offline; built directly in the unit tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.checks.timeline import Timeline
from harness.load import ledger
from harness.load.ledger import Operation, Request
from harness.plan import events as events_mod
from harness.probe import ledger as probe_ledger
from harness.tempest import ledger as tempest_ledger

REQUESTS = "load/requests.jsonl"
BUS_TRACE = "bus/trace.jsonl"
BUS_QUEUES = "bus/queues.json"
RESOURCES = "resources.json"
HOSTS = "hosts.json"
SCHEMA = "schema"  # rolled/<database>.sql and fresh/<database>.sql, from the backend
LOGS = "logs"  # <node>/<process>.log, as the backend collected them (redacted)
PINS = "pins.json"  # per pinned service: its peer, its log line, each release's version facts


@dataclass
class RunRecord:
    timeline: Timeline = field(default_factory=lambda: Timeline([], []))
    requests: list[Request] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    bus: list[dict] | None = None  # trace records; None when the bus was not traced
    queues: dict | None = None  # queue snapshots and the trace window
    resources: dict | None = None  # what the resource plugins created and verified
    hosts: dict | None = None  # the host checks' results
    events: list[dict] = field(default_factory=list)  # the runner's, as recorded
    logs: dict[str, str] | None = None  # "<node>/<process>.log" → its text
    latency: object | None = None  # the scenario's LatencyBudget (None: its defaults)
    schemas: dict[str, dict[str, str]] | None = None  # rolled|fresh → database → its dump
    probes: list[dict] | None = None  # the probe worker's records; None: no probes ran
    tempest: list[dict] | None = None  # the tempest runs, in order; None: tempest did not run
    pins: dict | None = None  # service → {peer, selected, target, facts}; None: not recorded

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        path = run_dir / "events.jsonl"
        events = events_mod.read(path) if path.exists() else []
        timeline = Timeline.from_events(events)
        path = run_dir / REQUESTS
        requests, operations = ledger.read(path) if path.exists() else ([], [])
        return cls(
            timeline, requests, operations,
            bus=_jsonl(run_dir / BUS_TRACE), queues=_json(run_dir / BUS_QUEUES),
            resources=_json(run_dir / RESOURCES), hosts=_json(run_dir / HOSTS),
            events=events, logs=_logs(run_dir / LOGS), schemas=_schemas(run_dir / SCHEMA),
            probes=_probes(run_dir / probe_ledger.LEDGER),
            tempest=_tempest(run_dir / tempest_ledger.LEDGER), pins=_json(run_dir / PINS),
        )  # fmt: skip


def _json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def _jsonl(path: Path) -> list[dict] | None:
    if not path.exists():
        return None
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _probes(path: Path) -> list[dict] | None:
    return probe_ledger.read(path) if path.exists() else None


def _tempest(path: Path) -> list[dict] | None:
    return tempest_ledger.read(path) if path.exists() else None


def _schemas(directory: Path) -> dict[str, dict[str, str]] | None:
    if not directory.is_dir():
        return None
    return {which.name: {p.stem: p.read_text() for p in sorted(which.glob("*.sql"))}
            for which in directory.iterdir() if which.is_dir()}  # fmt: skip


def _logs(directory: Path) -> dict[str, str] | None:
    if not directory.is_dir():
        return None
    return {p.relative_to(directory).as_posix(): p.read_text(errors="replace")
            for p in sorted(directory.glob("*/*.log"))}  # fmt: skip
