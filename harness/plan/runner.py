"""The runner: walks a plan step by step, writes events, shows progress, and stops at the
first step that fails, naming the step, its node, the seed and every node's releases."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.backends import Backend
from harness.backends.embedded import Embedded
from harness.cloud import Cloud
from harness.errors import StepFailed
from harness.plan.events import EventLog
from harness.plan.planner import Plan
from harness.plan.steps import Outcome
from harness.progress import log


@dataclass
class Context:
    """What steps run with: the backend that carries them out (harness/backends) and the
    events file. `cloud` is the embedded cloud, when there is one (None on devstack)."""

    cloud: Cloud | None
    cache_dir: Path | None
    events: EventLog
    backend: Backend | None = None

    def __post_init__(self):
        if self.backend is None:
            self.backend = Embedded(self.cloud, self.cache_dir)


@dataclass
class StepResult:
    id: str
    phase: str
    kind: str
    service: str
    node: str | None
    description: str
    started: float
    ended: float
    status: str  # "ok" | "failed"
    forced_kill: bool = False
    stop_wait: float | None = None
    finding: str | None = None
    error: str | None = None

    @property
    def duration(self) -> float:
        return self.ended - self.started


@dataclass
class RunResult:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if s.status == "failed"), None)


def execute(plan: Plan, ctx: Context, result: RunResult | None = None) -> RunResult:
    """Run every step in order. `result` (the caller's, so it survives a failure) gets
    each step's result as it ends."""
    result = result if result is not None else RunResult()
    total = len(plan)
    ctx.events.write("plan", seed=plan.seed, steps=total, scenario=plan.scenario.name)
    ctx.events.write("releases", releases=ctx.backend.releases())
    for n, (step_id, phase, step) in enumerate(plan.numbered(), 1):
        desc = step.describe()
        log.info("[%d/%d] %s %s", n, total, step_id, desc)
        ctx.events.write("step-start", id=step_id, phase=phase.name, kind=step.kind,
                         service=step.service, node=step.node, description=desc)  # fmt: skip
        started = time.time()
        try:
            outcome = step.run(ctx) or Outcome()
            error = None
        except Exception as e:  # any failure ends the roll at this step, attributed
            outcome, error = (
                Outcome(),
                f"{type(e).__name__}: {e}" if not isinstance(e, StepFailed) else str(e),
            )
        res = StepResult(step_id, phase.name, step.kind, step.service, step.node, desc, started,
                         time.time(), "failed" if error else "ok", outcome.forced_kill,
                         outcome.stop_wait, outcome.finding, error)  # fmt: skip
        result.steps.append(res)
        _record(ctx, res)
        if error:
            raise StepFailed(_failure_message(plan, res, ctx.backend.releases()))
    return result


def _record(ctx: Context, res: StepResult) -> None:
    ctx.events.write("step-end", id=res.id, status=res.status, duration=round(res.duration, 3),
                     forced_kill=res.forced_kill, stop_wait=res.stop_wait,
                     finding=res.finding, error=res.error)  # fmt: skip
    ctx.events.write("releases", releases=ctx.backend.releases())
    if res.forced_kill:
        log.warning("   %s needed SIGKILL after %.1f s (finding)", res.node, res.stop_wait)
    if res.finding:
        log.warning("   finding: %s", res.finding)
    log.info("   %s in %.1f s", res.status, res.duration)


def _failure_message(plan: Plan, res: StepResult, releases: dict) -> str:
    where = f" on {res.node}" if res.node and res.node != "all" else ""
    table = "; ".join(
        f"{node}: " + ", ".join(f"{p}={r}" for p, r in sorted(procs.items()))
        for node, procs in sorted(releases.items())
    )
    return (
        f"step {res.id} ({res.description}){where} failed: {res.error}\n"
        f"  seed {plan.seed}; replay: harness run {plan.scenario.path} --seed {plan.seed}\n"
        f"  releases: {table}"
    )
