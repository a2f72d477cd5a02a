"""`harness run`: up → a first server → resources → watch (bus trace + load) → roll →
verify → judge → collect → down, all in one run folder.

The run folder (reports/<run-id>/) gets the scenario, the plan, the events, the ledgers,
the host checks, a summary and every service's log (redacted). A failed step, a failed
verification or a Ctrl-C all still judge and collect what there is and take the cloud
down (unless --keep).
"""

from __future__ import annotations

import json
import random
import shlex
import time
from dataclasses import asdict
from pathlib import Path

import yaml

from harness import process, progress, report
from harness import scenario as scenario_mod
from harness.backends import CloudView, openstack_api, registry
from harness.backends.devstack import nodes as devstack_nodes
from harness.checks import record
from harness.errors import StepFailed
from harness.plan import planner, runner, steps
from harness.plan.events import EventLog
from harness.progress import log
from harness.report import github, results
from harness.run import pins, survival
from harness.run import tempest as tempest_run
from harness.run.observe import Watch
from harness.secrets import redact
from harness.services.nova import smoke
from harness.tempest import ledger as tempest_ledger
from harness.tempest.control import Tempest


def choose_seed(scenario, seed: int | None) -> int:
    if seed is not None:
        return seed
    if scenario.seed is not None:
        return scenario.seed
    return random.SystemRandom().randrange(2**31)


def plan_for(scenario_path: Path, seed: int | None, nodes: Path | None = None,
             overrides: scenario_mod.Overrides | None = None) -> planner.Plan:  # fmt: skip
    """The scenario's plan; on devstack nodes (`nodes`: the nodes file), for those nodes."""
    s = scenario_mod.load(scenario_path, overrides)
    if nodes is not None:
        s = devstack_nodes.scenario_on(s, devstack_nodes.load(nodes))
    return planner.build(s, choose_seed(s, seed))


def run(scenario_path: Path, state_dir: Path, cache_dir: Path, seed: int | None,
        keep: bool, report_dir: Path | None, backend: str = "embedded",
        nodes: Path | None = None,
        overrides: scenario_mod.Overrides | None = None) -> int:  # fmt: skip
    target = registry.open_target(backend, scenario_path, state_dir, cache_dir, nodes,
                                  overrides)  # fmt: skip
    s = target.scenario  # on devstack, with the nodes file's nodes and VIP
    plan = planner.build(s, choose_seed(s, seed))
    console = progress.transcript()  # the run folder's console.log, from the first line
    try:
        return _up_and_roll(target, plan, scenario_path, cache_dir, keep, report_dir, nodes,
                            overrides, console)  # fmt: skip
    finally:
        console.close()


def _up_and_roll(target, plan, scenario_path, cache_dir, keep, report_dir, nodes, overrides,
                 console) -> int:  # fmt: skip
    # Up first: a cloud that does not come up (or nodes out of reach) leaves no run folder.
    cloud = target.up()
    try:
        run_dir, summary, events, watch, resources = _open_run(
            target, cloud, plan, scenario_path, report_dir, nodes, overrides
        )
        console.attach(run_dir / "console.log", lambda t: redact(t, cloud.secrets.values()))
    except BaseException:
        if not keep:
            target.down()  # a failure before the roll began must not leave the cloud up
        raise
    return _roll(target, cloud, plan, cache_dir, keep, run_dir, summary, events, watch,
                 resources)  # fmt: skip


def _open_run(target, cloud, plan: planner.Plan, scenario_path: Path,
              report_dir: Path | None, nodes: Path | None, overrides) -> tuple:  # fmt: skip
    """The run folder, its summary and events, the watch and the resources, before the
    first step."""
    s = target.scenario
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{s.name}-{plan.seed}"
    # Absolute: what runs elsewhere (tempest in its work dir) writes into it too.
    run_dir = (report_dir or Path("reports") / run_id).absolute()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "plan.txt").write_text(planner.render(plan))
    # To judge it again offline: as the run read it (what it extends, the command line's
    # sources merged in), since a copy of the file would lean on files beside it.
    data, _ = scenario_mod.read(scenario_path, overrides, sources=False)
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    log.info("run %s on %s: seed %d, %s -> %s, %d steps; report in %s", run_id, target.name,
             plan.seed, s.release_from, s.release_to, len(plan), run_dir)  # fmt: skip
    where = f" --backend devstack --nodes {shlex.quote(str(nodes))}" if nodes else ""
    if overrides and (overrides.sources or overrides.constraints):
        where += "".join(f" {arg}" for arg in s.side_to.replay_args())
    events = EventLog(run_dir / "events.jsonl")
    summary = {"run_id": run_id, "scenario": s.name, "seed": plan.seed, "backend": target.name,
               "releases": {"from": s.release_from, "to": s.release_to},
               "sides": sides_record(s, target.installed()),
               "replay": f"harness run {shlex.quote(str(scenario_path))} --seed {plan.seed}"
                         + where,
               "started": time.time(), "verification": {}}  # fmt: skip
    _save_run(run_dir, summary)
    watch = Watch(cloud, run_dir, events, target.trace_bus, target.backend.releases)
    resources = Resources(run_dir / record.RESOURCES)
    return run_dir, summary, events, watch, resources


def _roll(target, cloud, plan: planner.Plan, cache_dir: Path, keep: bool, run_dir: Path,
          summary: dict, events: EventLog, watch: Watch, resources: Resources) -> int:  # fmt: skip
    try:
        with process.signals_as_interrupt():
            _phase(events, "first-server", lambda: smoke.boot_and_delete(cloud))
            _phase(events, "resources", lambda: resources.create(cloud))
            _phase(events, "watch", watch.start)
            watch.tempest = _phase(events, "tempest-setup", lambda: tempest_run.open_runner(
                target, cloud, run_dir, cache_dir))  # fmt: skip
            _phase(events, "baseline", lambda: _baseline(cloud.scenario.load.baseline,
                                                         watch.tempest))  # fmt: skip
            context = steps.Context(target.backend, events,
                                    lambda text: redact(text, cloud.secrets.values()),
                                    summary["replay"])  # fmt: skip
            if watch.tempest:
                watch.tempest.start_during()
            runner.execute(plan, context)
            if watch.tempest:
                watch.tempest.stop_during()
            summary["verification"] = _phase(events, "verify", lambda: verify(target))
            if watch.tempest:
                _phase(events, "tempest-after", lambda: watch.tempest.run(tempest_ledger.AFTER))
            _phase(events, "schema", lambda: target.backend.dump_schemas(run_dir))
    except StepFailed as e:
        summary["error"] = str(e)
        raise
    except KeyboardInterrupt:
        summary["error"] = "interrupted"
        raise
    finally:
        try:
            _conclude(summary, watch, resources, plan, run_dir, target)
        finally:  # a second Ctrl-C while concluding must not leave the cloud behind
            events.close()
            if not keep:
                target.down()
            elif target.name == "embedded":
                client = openstack_api.write_clouds_yaml(cloud)
                log.info("the cloud is left up ('harness down' removes it); for the "
                         "openstack client: %s", client)  # fmt: skip
        verdict = _report(run_dir)
    return 0 if verdict == "pass" else 1


def _baseline(seconds: float, tempest: Tempest | None) -> None:
    """The load before the roll: what the latency oracle compares each phase with, and
    tempest's first run, what the tempest oracle compares the later ones with (the load
    runs beside it, as it will during the roll)."""
    started = time.monotonic()
    if tempest is not None:
        log.info("baseline: tempest's first run, under the load")
        tempest.run(tempest_ledger.BASELINE)
    left = seconds - (time.monotonic() - started)
    if left > 0:
        log.info("baseline: %g s of load before the first step", left)
        time.sleep(left)


def sides_record(s: scenario_mod.Scenario, installed: dict[str, dict[str, str]]) -> dict:
    """What was rolled from and to: each side's series, each project's installed version
    (the target's `installed()`, else the catalog's), its sources and constraints."""
    return {key: {"series": side.name, **side.record(),
                  "projects": installed.get(side.name) or dict(side.series.versions)}
            for key, side in (("from", s.side_from), ("to", s.side_to))}  # fmt: skip


def _report(run_dir: Path) -> str:
    try:
        res = report.write_all(run_dir)
    except Exception as e:  # never hide the run's own failure behind the report's
        log.error("building the reports failed: %s: %s", type(e).__name__, e)
        return "fail"
    table = report.summary_table(res, run_dir)
    print(table, flush=True)
    with open(run_dir / "console.log", "a", encoding="utf-8") as console:
        console.write(table + "\n")
    github.publish(res, run_dir)
    return res["verdict"]


def _conclude(summary: dict, watch: Watch, resources: Resources, plan: planner.Plan,
              run_dir: Path, target) -> None:  # fmt: skip
    """Whatever happened: stop watching, check the hosts and resources, collect the logs,
    and record how the run ended. The evidence matters most when a step failed; it is
    judged from these files (report.write_all)."""
    # Interrupted: keep what was recorded, but do not keep the user waiting on the cloud.
    interrupted = summary.get("error") == "interrupted"
    watch.finish(settle_bound=0 if interrupted else 120)
    summary["settled"] = watch.settled
    _check_hosts(target, plan, run_dir)
    if not interrupted:
        resources.verify_and_destroy(watch.cloud)
    try:
        summary["logs"] = target.collect_logs(run_dir / "logs")
    except Exception as e:  # the logs matter, but never more than the verdict
        log.warning("collecting the logs failed: %s", e)
    # Read again: devstack's nodes install the new side during the roll.
    summary["sides"] = sides_record(target.scenario, target.installed())
    pins.write(target, run_dir)
    summary["ended"] = time.time()
    _save_run(run_dir, summary)


def _save_run(run_dir: Path, summary: dict) -> None:
    (run_dir / results.RUN).write_text(json.dumps(summary, indent=2))


class Resources:
    """Grenade's lifecycle around the roll: created and verified before it, verified after
    it and destroyed at the end, all written to resources.json for the resources oracle."""

    def __init__(self, path: Path):
        self.path = path
        self.doc: dict = {}

    def create(self, cloud: CloudView) -> None:
        self.doc["created"] = survival.create_all(cloud)
        self.doc["verified"] = {"before": survival.verify_all(cloud, self.doc["created"], "before")}
        self._save()

    def verify_and_destroy(self, cloud: CloudView) -> None:
        if not self.doc:
            return  # never created: the oracle says "unknown"
        try:
            self.doc["verified"]["after"] = survival.verify_all(cloud, self.doc["created"], "after")
            self.doc["destroyed"] = survival.destroy_all(cloud, self.doc["created"])
        except Exception as e:  # the cloud is gone or broken: judged on what was recorded
            log.warning("verifying the resources after the roll failed: %s", e)
        self._save()

    def _save(self) -> None:
        self.path.write_text(json.dumps(self.doc, indent=1))


def _check_hosts(target, plan: planner.Plan, run_dir: Path) -> None:
    try:
        hosts = target.check_hosts(plan)
    except Exception as e:  # no hosts.json → the hosts oracle says "unknown"
        log.warning("host checks failed to run: %s", e)
        return
    (run_dir / record.HOSTS).write_text(json.dumps(hosts, indent=1))


def _phase(events: EventLog, name: str, fn):
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
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


def verify(target) -> dict:
    """After the roll, a new server boots. Where each process ended, its config and HAProxy
    are the hosts oracle's to judge (hostcheck), with the others."""
    server = smoke.boot_and_delete(target.cloud)
    return {"server_after_roll": asdict(server), "releases": target.backend.releases()}
