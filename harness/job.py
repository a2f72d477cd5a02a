"""`harness run`: up → a first server → roll → verify → collect → down, one run folder.

The run folder (reports/<run-id>/) gets the plan, the events file, a summary and every
service's log (redacted). A failed step, a failed verification or a Ctrl-C all still
collect what there is and take the cloud down (unless --keep).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from harness import collect, judge, lifecycle, openstack_api, smoke
from harness import scenario as scenario_mod
from harness.bus import control as bus
from harness.cloud import Cloud
from harness.errors import StepFailed
from harness.infra import haproxy
from harness.load import control, settle
from harness.plan import planner, runner
from harness.plan.events import EventLog
from harness.progress import log
from harness.services import ORDER


def choose_seed(scenario, seed: int | None) -> int:
    if seed is not None:
        return seed
    if scenario.seed is not None:
        return scenario.seed
    return random.SystemRandom().randrange(2**31)


def plan_for(scenario_path: Path, seed: int | None) -> planner.Plan:
    s = scenario_mod.load(scenario_path)
    return planner.build(s, choose_seed(s, seed))


def run(scenario_path: Path, state_dir: Path, cache_dir: Path, seed: int | None,
        keep: bool, report_dir: Path | None) -> int:  # fmt: skip
    plan = plan_for(scenario_path, seed)
    s = plan.scenario
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{s.name}-{plan.seed}"
    run_dir = report_dir or Path("reports") / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "plan.txt").write_text(planner.render(plan))
    shutil.copyfile(scenario_path, run_dir / "scenario.yaml")  # to judge it again offline
    log.info("run %s: seed %d, %s -> %s, %d steps; report in %s",
             run_id, plan.seed, s.release_from, s.release_to, len(plan), run_dir)  # fmt: skip
    # Both releases are built before anything runs: a broken lock fails here, not mid-roll.
    venvs = lifecycle.build_venvs([s.release_from, s.release_to], cache_dir)
    cloud = lifecycle.up(scenario_path, state_dir, cache_dir, venvs)
    events = EventLog(run_dir / "events.jsonl")
    summary = {"run_id": run_id, "scenario": s.name, "seed": plan.seed,
               "releases": {"from": s.release_from, "to": s.release_to},
               "verdict": "fail", "steps": [], "verification": {}}  # fmt: skip
    result = runner.RunResult()
    load = trace = None
    try:
        with lifecycle.signals_as_interrupt():
            _phase(events, "resources", lambda: smoke.boot_and_delete(cloud))
            trace = _phase(events, "trace", lambda: bus.start(cloud, run_dir), keep=True)
            load = _phase(events, "load", lambda: start_load(cloud, run_dir), keep=True)
            ctx = runner.Context(cloud, cache_dir, events)
            runner.execute(plan, ctx, result)
            summary["verification"] = _phase(events, "verify", lambda: verify(cloud, s.release_to))
    except StepFailed as e:
        summary["error"] = str(e)
        raise
    finally:
        if load is not None:
            _stop_load(events, load)
            summary["settled"] = _settle(events, cloud, load)
        if trace is not None:
            _stop_trace(events, trace)
        if load is not None:
            # Judged whatever happened: the evidence matters most when a step failed.
            j = judge.judge(run_dir, s.known_findings)
            summary["oracles"] = judge.as_dict(j.verdicts)
            summary["stale_findings"] = j.stale
            summary["verdict"] = "fail" if "error" in summary else j.verdict
            for v in j.verdicts:
                log.info("oracle %-18s %-7s %s", v.oracle, v.status, v.summary)
            for k in j.stale:
                log.warning("known finding did not occur (stale): %s", k["reason"])
        if result.steps:
            summary["steps"] = [_step_summary(r) for r in result.steps]
        summary["findings"] = [
            {"step": r.id, "finding": r.finding} for r in result.steps if r.finding
        ] + [{"step": r.id, "finding": f"forced kill after {r.stop_wait} s"}
             for r in result.steps if r.forced_kill]  # fmt: skip
        summary["logs"] = collect.collect_logs(cloud, run_dir / "logs")
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        events.close()
        if not keep:
            lifecycle.down(state_dir)
        log.info("verdict %s; report in %s", summary["verdict"], run_dir)
    return 0 if summary["verdict"] == "pass" else 1


def start_load(cloud: Cloud, run_dir: Path) -> control.Load:
    conn = openstack_api.admin(cloud)
    image, flavor = smoke.ensure_image_and_flavor(conn)
    return control.start(cloud, run_dir, image, flavor)


def _stop_load(events: EventLog, load: control.Load) -> None:
    status = load.stop()
    events.write("load-stopped", exit_status=status)
    log.info("load stopped (worker exit %d); ledger %s", status, load.ledger)


def _settle(events: EventLog, cloud: Cloud, load: control.Load) -> dict:
    try:
        return _phase(events, "settle", lambda: settle.settle(cloud, load.ledger))
    except StepFailed as e:  # judged anyway: the ledger says what stayed pending
        log.warning("%s", e)
        return {"error": str(e)}


def _stop_trace(events: EventLog, trace: bus.Trace) -> None:
    try:
        status = trace.stop()
    except Exception as e:  # no trace file → the bus oracle says "unknown", not "pass"
        log.warning("stopping the bus trace failed: %s", e)
        return
    events.write("trace-stopped", exit_status=status)


def _phase(events: EventLog, name: str, fn, keep: bool = False):
    log.info("phase %s", name)
    events.write("phase-start", phase=name)
    started = time.time()
    try:
        value = fn()
    except Exception as e:
        events.write("phase-end", phase=name, status="failed", error=str(e))
        if isinstance(e, StepFailed):
            raise
        raise StepFailed(f"phase {name} failed: {type(e).__name__}: {e}") from e
    events.write("phase-end", phase=name, status="ok", duration=round(time.time() - started, 3))
    if keep:
        return value
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


def _step_summary(r: runner.StepResult) -> dict:
    return {"id": r.id, "name": r.description, "kind": r.kind, "service": r.service,
            "node": r.node, "started": r.started, "ended": r.ended,
            "duration": round(r.duration, 3), "status": r.status,
            "forced_kill": r.forced_kill, "stop_wait": r.stop_wait,
            "finding": r.finding, "error": r.error}  # fmt: skip


def verify(cloud: Cloud, target: str) -> dict:
    """After the roll: every service process on every node runs `target` (asked of the
    processes), every HAProxy backend is UP, and a new server boots."""
    releases = runner.releases_now(cloud)
    wrong = [
        f"{name} on {node.name} runs {releases.get(node.name, {}).get(name, 'nothing')}"
        for node in cloud.scenario.nodes
        for svc in ORDER
        if svc.runs_on(node)
        for name in svc.processes(node)
        if releases.get(node.name, {}).get(name) != target
    ]
    if wrong:
        raise StepFailed(f"not every process runs {target}: {'; '.join(wrong)}")
    down = [
        f"{fe}/{srv} {st}" for (fe, srv), st in haproxy.server_status(cloud).items() if st != "UP"
    ]
    if down:
        raise StepFailed(f"HAProxy backends not UP after the roll: {', '.join(down)}")
    server = smoke.boot_and_delete(cloud)
    return {"releases": releases, "server_after_roll": asdict(server)}
