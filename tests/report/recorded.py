"""Recorded runs for the report tests: a run folder written the way `harness run` writes
one (run.json, scenario.yaml, events, request ledger, bus trace, resources, hosts, logs,
probes, tempest runs, pins), with
a history chosen by the test: a clean run, one with failed requests, or one whose only
failure is a known finding of its scenario."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from harness.load import ledger
from harness.load.ledger import Operation, Request

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "nova-rolling.yaml"
T0 = 1_800_000_000.0
STEPS = [
    ("6.5", "restart", "nova-conductor", "controller",
     "nova-conductor on controller: graceful stop, start on 2026.2", 10, 14, True),
    ("6.13", "drain", "nova-api", "controller",
     "nova-api: drain controller in HAProxy", 20, 21, False),
    ("6.14", "restart", "nova-api", "controller",
     "nova-api on controller: graceful stop, start on 2026.2", 21, 26, False),
]  # fmt: skip
KNOWN_500 = """
known_findings:
  - oracle: failed_requests
    match: {status: "500", request: "GET nova GET /v2.1/servers/detail"}
    reason: old nova-api cannot read what a newer one wrote (a crafted bug for the tests)
"""


def write_run(run_dir: Path, kind: str = "pass") -> Path:
    """kind: "pass", "fail" (failed requests nobody expected) or "xfail"."""
    run_dir.mkdir(parents=True, exist_ok=True)
    scenario = SCENARIO.read_text()
    if kind == "xfail":
        scenario = scenario.split("\nknown_findings:")[0] + KNOWN_500
    (run_dir / "scenario.yaml").write_text(scenario)
    run = {"run_id": f"20270115-080000-nova-rolling-{kind}", "scenario": "nova-rolling",
           "seed": 42, "releases": {"from": "2026.1", "to": "2026.2"},
           "replay": "harness run scenarios/nova-rolling.yaml --seed 42",
           "started": T0, "ended": T0 + 40}  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(run))
    _events(run_dir)
    _ledger(run_dir, failing=kind in ("fail", "xfail"))
    _bus(run_dir)
    (run_dir / "resources.json").write_text(json.dumps(_resources()))
    (run_dir / "hosts.json").write_text(json.dumps(_hosts()))
    _logs(run_dir)
    _pins(run_dir)
    _haproxy(run_dir)
    _probes(run_dir)
    _tempest(run_dir)
    _schemas(run_dir)
    return run_dir


def _events(run_dir: Path) -> None:
    rel = {"controller": {"nova-api": "2026.1", "nova-conductor": "2026.1",
                          "nova-compute": "2026.1"},
           "compute-api": {"nova-api": "2026.1", "nova-compute": "2026.1"}}  # fmt: skip
    events = [{"t": T0, "event": "plan", "seed": 42, "steps": len(STEPS),
               "scenario": "nova-rolling"},
              {"t": T0, "event": "releases", "releases": json.loads(json.dumps(rel))}]  # fmt: skip
    for sid, kind, process, node, text, start, end, forced in STEPS:
        events.append({"t": T0 + start, "event": "step-start", "id": sid, "kind": kind,
                       "service": "nova", "node": node, "description": text})  # fmt: skip
        events.append({"t": T0 + end, "event": "step-end", "id": sid, "status": "ok",
                       "forced_kill": forced, "stop_wait": 30.2 if forced else 1.0,
                       "finding": None, "error": None})  # fmt: skip
        if kind == "restart":
            rel[node][process] = "2026.2"
        events.append({"t": T0 + end, "event": "releases",
                       "releases": json.loads(json.dumps(rel))})  # fmt: skip
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def _ledger(run_dir: Path, failing: bool) -> None:
    lines = []
    for i in range(80):
        t = T0 + i * 0.5
        version = "2.104" if t > T0 + 26 else "2.103"
        lines.append(Request("VersionClient-1", t, t + 0.02, "GET", "nova GET /", 200,
                             backend="controller", request_id=f"req-{i}",
                             max_version=version))  # fmt: skip
        status = 500 if failing and 22 <= i <= 24 else 200
        lines.append(Request("Reader-1", t + 0.1, t + 0.15, "GET",
                             "nova GET /v2.1/servers/detail", status,
                             backend="compute-api", request_id=f"req-d{i}"))  # fmt: skip
    lines.append(Operation("Writer-1", "server-create", "s1", "req-c", T0 + 5, T0 + 9, "ACTIVE"))
    lines.append(Operation("Writer-1", "server-delete", "s1", "req-d", T0 + 9, T0 + 10, "DELETED"))
    path = run_dir / "load" / "requests.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_text("".join(ledger.dump(r) + "\n" for r in lines))


def _bus(run_dir: Path) -> None:
    bus = run_dir / "bus"
    bus.mkdir(exist_ok=True)
    recs = []
    for i in range(10):
        t = T0 + i
        base = {"key": f"u{i}", "exchange": "nova", "method": "object_action", "role": "call"}
        recs.append({**base, "kind": "publish", "t": t, "routed_queues": ["conductor"],
                     "routing_keys": ["conductor"]})  # fmt: skip
        recs.append({**base, "kind": "deliver", "t": t + 0.01, "queue": "conductor"})
    (bus / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    window = {"start": T0, "stop": T0 + 40, "queues_at_start": [{"name": "conductor"}],
              "queues_at_stop": [{"name": "conductor", "messages": 0}]}  # fmt: skip
    (bus / "queues.json").write_text(json.dumps(window))


def _logs(run_dir: Path) -> None:
    """The conductor's log: the old pid, then the new one started by step 6.5; an ERROR
    while the cloud came up (before the roll: counted, not judged)."""

    def at(t: float, pid: int, level: str, text: str) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(T0 + t))
        return f"{when}.000 {pid} {level} nova.service [-] {text}\n"

    path = run_dir / "logs" / "controller" / "nova-conductor.log"
    path.parent.mkdir(parents=True)
    path.write_text(
        at(-5, 100, "INFO", "Starting conductor node (version 33.0.0)")
        + at(-4, 100, "ERROR", "Could not load 'x' (as the cloud came up)")
        + at(12, 200, "INFO", "Starting conductor node (version 34.0.0)")
        + at(
            13,
            200,
            "INFO",
            "Automatically selected compute RPC version 6.5 from minimum service version 72",
        )
    )


def _pins(run_dir: Path) -> None:
    """nova's RPC pin facts, as read in each side's venv (nova 33.0.0 and 34.0.0)."""
    from harness.services import BY_NAME

    history = {str(v): "6.5" for v in range(71, 75)}
    facts = {"2026.1": {"service_version": 72, "peer_rpc": history},
             "2026.2": {"service_version": 74, "peer_rpc": history}}  # fmt: skip
    pins = BY_NAME["nova"].pins
    doc = {"nova": {"peer": pins.peer, "selected": pins.selected, "target": "2026.2",
                    "facts": facts}}  # fmt: skip
    (run_dir / "pins.json").write_text(json.dumps(doc))


def _haproxy(run_dir: Path) -> None:
    """HAProxy drained controller's nova-api for its restart (6.13-6.14), then readied it."""

    def at(t: float, text: str) -> str:
        return f"{datetime.fromtimestamp(T0 + t, timezone.utc).isoformat()} {text}\n"

    (run_dir / "logs" / "controller" / "haproxy.log").write_text(
        at(
            5,
            f'haproxy-request {T0 + 5:.3f} 0 nova-api controller 200 ---- 0 0 9 9 "GET / HTTP/1.1"',
        )
        + at(20, "Server nova-api/controller enters drain state.")
        + at(22, "Server nova-api/controller is DOWN, reason: Layer4 connection problem")
        + at(25, "Server nova-api/controller is UP, reason: Layer7 check passed")
        + at(26, "Server nova-api/controller is UP (leaving forced drain).")
    )


def _probes(run_dir: Path) -> None:
    """The probes saw the restart's refusals, while the backend was drained."""
    backends = [{"api": "nova-api", "node": n, "address": a, "port": 8774, "path": "/"}
                for n, a in (("controller", "10.0.0.1"), ("compute-api", "10.0.0.2"))]  # fmt: skip
    records = [{"started": T0, "backends": backends}]
    records += [{"t": T0 + t, "api": "nova-api", "node": "controller", "probe": "connect",
                 "failure": "refused", "ms": 0.1} for t in (22.0, 22.1, 22.2)]  # fmt: skip
    records += [{"tick": T0 + 40, "counts": {"nova-api@controller": {"connect": 400, "http": 40},
                 "nova-api@compute-api": {"connect": 400, "http": 40}}, "late_s": 0.02},
                {"stopped": T0 + 40}]  # fmt: skip
    path = run_dir / "probes" / "probes.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _tempest(run_dir: Path) -> None:
    """A baseline before the roll, a run during it, one after: the same tests passed."""
    test = "tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_list_flavors[id-1]"
    runs = [(1, "baseline", 1, 9), (2, "during", 10, 30), (3, "after", 31, 39)]
    lines = [{"run": n, "label": label, "started": T0 + a, "ended": T0 + b, "exit_status": 0,
              "cut_short": False, "stopping": None,
              "tests": {test: {"status": "success", "start": T0 + a + 1, "end": T0 + a + 2,
                               "reason": None}}} for n, label, a, b in runs]  # fmt: skip
    path = run_dir / "tempest" / "runs.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))


def _resources() -> dict:
    ok = {"problems": [], "duration": 0.5}
    plugins = ("keystone", "glance", "nova")
    return {"created": {p: {"state": {"id": p}, **ok} for p in plugins},
            "verified": {"before": dict.fromkeys(plugins, ok),
                         "after": dict.fromkeys(plugins, ok)},
            "destroyed": dict.fromkeys(plugins, ok)}  # fmt: skip


def _hosts() -> dict:
    checks = [{"node": n, "check": "release nova-api", "expected": "2026.2",
               "actual": "2026.2", "ok": True} for n in ("controller", "compute-api")]  # fmt: skip
    return {"target": "2026.2", "started": T0 + 38, "duration": 0.2, "hosts": {},
            "checks": checks}  # fmt: skip


INSTANCES = """CREATE TABLE `instances` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `uuid` varchar(36) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=%d DEFAULT CHARSET=utf8mb3;
"""


def _schemas(run_dir: Path) -> None:
    """The roll left nova's schema as a fresh install makes it (but for the counter)."""
    for which, counter in (("rolled", 42), ("fresh", 1)):
        path = run_dir / "schema" / which / "nova.sql"
        path.parent.mkdir(parents=True)
        path.write_text(INSTANCES % counter)
