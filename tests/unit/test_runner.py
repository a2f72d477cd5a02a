"""The runner on steps whose outcome we choose: it stops at the first failing step, names
it, and records every step's outcome in the events file."""

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from harness import process, scenario
from harness.backends.embedded.backend import Embedded
from harness.backends.embedded.cloud import Cloud
from harness.errors import StepFailed
from harness.plan import planner, runner
from harness.plan.events import EventLog, read
from harness.plan.steps import Context, Outcome, Step

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Scripted(Step):
    host: str
    fail: bool = False
    kill: bool = False
    ran: list = None  # noqa: RUF009 (a shared list the test reads)

    def describe(self) -> str:
        return f"scripted step on {self.host}"

    def run(self, ctx):
        self.ran.append(self.host)
        if self.fail:
            raise StepFailed("the service did not come back")
        return Outcome(forced_kill=self.kill, stop_wait=30.2 if self.kill else None)


@pytest.fixture
def ctx(tmp_path):
    s = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml")
    cloud = Cloud(s, tmp_path)
    cloud.record["venvs"] = {}
    return Context(Embedded(cloud, tmp_path / "cache"), EventLog(tmp_path / "events.jsonl"))


def make_plan(ctx, steps):
    return planner.Plan(ctx.backend.cloud.scenario, 9, (planner.Phase("nova", tuple(steps)),))


def test_the_runner_stops_at_the_first_failing_step_and_names_it(ctx, tmp_path):
    ran = []
    steps = [Scripted("nova", "controller", kill=True, ran=ran),
             Scripted("nova", "compute-api", fail=True, ran=ran),
             Scripted("nova", "controller", ran=ran)]  # fmt: skip
    with pytest.raises(StepFailed) as e:
        runner.execute(make_plan(ctx, steps), ctx)
    message = str(e.value)
    assert "step 1.2 (scripted step on compute-api) on compute-api failed" in message
    assert "the service did not come back" in message
    assert "seed 9; replay: harness run" in message and "--seed 9" in message
    assert ran == ["controller", "compute-api"]  # the third step never ran
    events = read(tmp_path / "events.jsonl")
    ends = [e for e in events if e["event"] == "step-end"]
    assert [(e["id"], e["status"], e["forced_kill"]) for e in ends] == [
        ("1.1", "ok", True),
        ("1.2", "failed", False),
    ]
    assert ends[0]["stop_wait"] == 30.2
    # the run's own replay command, when the job gives it: its sources and backend too
    replay = "harness run 'my scenarios/x.yaml' --seed 9 --source nova=/src/nova"
    with pytest.raises(StepFailed) as e:
        runner.execute(make_plan(ctx, steps[1:2]), replace(ctx, replay=replay))
    assert f"seed 9; replay: {replay}\n" in str(e.value)


def test_an_unexpected_exception_is_a_failed_step_not_a_crash(ctx):
    @dataclass(frozen=True)
    class Broken(Step):
        def describe(self):
            return "broken"

        def run(self, ctx):
            raise KeyError("nova-api")

    with pytest.raises(StepFailed, match="step 1.1 \\(broken\\) failed: KeyError: 'nova-api'"):
        runner.execute(make_plan(ctx, [Broken("nova")]), ctx)


def test_the_callers_result_keeps_the_steps_done_before_a_failure(ctx):
    ran = []
    result = runner.RunResult()
    steps = [
        Scripted("nova", "controller", ran=ran),
        Scripted("nova", "compute-api", fail=True, ran=ran),
    ]
    with pytest.raises(StepFailed):
        runner.execute(make_plan(ctx, steps), ctx, result)
    assert [(s.id, s.status) for s in result.steps] == [("1.1", "ok"), ("1.2", "failed")]
    assert result.failed.id == "1.2"


def test_each_step_has_its_log_redacted_and_a_failed_ones_says_so_in_its_name(ctx, tmp_path):
    @dataclass(frozen=True)
    class Talking(Step):
        host: str
        fail: bool = False

        def describe(self):
            return f"talking on {self.host}"

        def run(self, ctx):
            process.run(["sh", "-c", "echo migrated 3 rows; echo password=s3cr3t"], None,
                        {"PATH": "/usr/bin:/bin"}, tmp_path / "manage.log", 10)  # fmt: skip
            if self.fail:
                raise StepFailed("it did not come back")

    ctx.redact = lambda text: text.replace("s3cr3t", "***")
    with pytest.raises(StepFailed):
        steps = [Talking("nova", "controller"), Talking("nova", "compute-api", fail=True)]
        runner.execute(make_plan(ctx, steps), ctx)
    logs = sorted(p.name for p in (tmp_path / "steps").iterdir())
    assert logs == ["1.1-talking-nova-controller.log", "FAILED_1.2-talking-nova-compute-api.log"]
    text = (tmp_path / "steps" / logs[1]).read_text()
    assert "step 1.2: talking on compute-api" in text
    assert "$ sh -c echo migrated 3 rows" in text and "migrated 3 rows" in text
    assert "password=***" in text and "s3cr3t" not in text
    assert "step failed: it did not come back" in text
    assert "1.2" not in (tmp_path / "steps" / logs[0]).read_text()  # one step per file
