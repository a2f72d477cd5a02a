"""The runner: walks a plan step by step, writes events, shows progress, and stops at the
first step that fails, naming the step, its node, the seed and every node's releases.

Each step's log — what the harness did and the commands' output, at debug level, secrets
redacted — is `steps/<id>-<kind>-<service>[-<node>].log` in the run folder; a failed step's
file is renamed `FAILED_<...>.log`, so it is the first thing one finds there."""

from __future__ import annotations

import contextlib
import logging
import re
import shlex
import time
from dataclasses import dataclass, field

from harness.errors import StepFailed
from harness.plan.planner import Plan
from harness.plan.steps import Context, Outcome
from harness.progress import log
from harness.services import UPGRADED_AFTER


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
    ctx.events.write(
        "plan",
        seed=plan.seed,
        steps=total,
        scenario=plan.scenario.name,
        target=plan.scenario.release_to,
        order={p: list(first) for p, first in UPGRADED_AFTER.items()},  # procedure oracle
    )
    ctx.events.write("releases", releases=ctx.backend.releases())
    for n, (step_id, phase, step) in enumerate(plan.numbered(), 1):
        desc = step.describe()
        log.info("[%d/%d] %s %s", n, total, step_id, desc)
        ctx.events.write("step-start", id=step_id, phase=phase.name, kind=step.kind,
                         service=step.service, node=step.node, description=desc)  # fmt: skip
        started = time.time()
        with _step_log(ctx, step_id, step) as path:
            try:
                outcome = step.run(ctx) or Outcome()
                error = None
            except Exception as e:  # any failure ends the roll at this step, attributed
                outcome, error = (
                    Outcome(),
                    f"{type(e).__name__}: {e}" if not isinstance(e, StepFailed) else str(e),
                )
                log.debug("step failed: %s", error)
        if error:
            path.rename(path.with_name("FAILED_" + path.name))
        res = StepResult(step_id, phase.name, step.kind, step.service, step.node, desc, started,
                         time.time(), "failed" if error else "ok", outcome.forced_kill,
                         outcome.stop_wait, outcome.finding, error)  # fmt: skip
        result.steps.append(res)
        _record(ctx, res)
        if error:
            raise StepFailed(_failure_message(plan, res, ctx.backend.releases(), ctx.replay))
    return result


class _Redacting(logging.Formatter):
    def __init__(self, redact):
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def step_log_name(step_id: str, step) -> str:
    parts = [step_id, step.kind, step.service] + ([step.node] if step.node else [])
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)) + ".log"


@contextlib.contextmanager
def _step_log(ctx: Context, step_id: str, step):
    """Everything the harness logs while the step runs, at debug level, into its file."""
    folder = ctx.events.path.parent / "steps"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / step_log_name(step_id, step)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(_Redacting(ctx.redact))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)  # the console's handler keeps its own level
    log.debug("step %s: %s", step_id, step.describe())
    try:
        yield path
    finally:
        log.setLevel(level)
        log.removeHandler(handler)
        handler.close()


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


def _failure_message(plan: Plan, res: StepResult, releases: dict, replay: str | None) -> str:
    where = f" on {res.node}" if res.node and res.node != "all" else ""
    table = "; ".join(
        f"{node}: " + ", ".join(f"{p}={r}" for p, r in sorted(procs.items()))
        for node, procs in sorted(releases.items())
    )
    return (
        f"step {res.id} ({res.description}){where} failed: {res.error}\n"
        f"  seed {plan.seed}; replay: "
        f"{replay or f'harness run {shlex.quote(str(plan.scenario.path))} --seed {plan.seed}'}\n"
        f"  releases: {table}"
    )
