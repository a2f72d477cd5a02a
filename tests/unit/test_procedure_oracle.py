"""Oracle 7, procedure: the plan ran to its end, every step succeeded."""

from harness.checks.oracles import procedure
from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN


def events(outcomes: list[str | None], planned: int | None = None) -> list[dict]:
    """A plan of `planned` steps (default: as many as outcomes); each outcome "ok",
    "failed" or None (started, never ended)."""
    out = [{"t": 0, "event": "plan", "steps": planned or len(outcomes), "seed": 1}]
    for i, status in enumerate(outcomes, 1):
        out.append({"t": i, "event": "step-start", "id": f"6.{i}", "kind": "manage",
                    "service": "nova", "node": "controller",
                    "description": f"nova: step {i}"})  # fmt: skip
        if status:
            out.append({"t": i + 0.5, "event": "step-end", "id": f"6.{i}", "status": status,
                        "error": "exit 255: Error: NoSuchOptError" if status == "failed"
                        else None})  # fmt: skip
    return out


def test_every_planned_step_succeeding_passes():
    v = procedure.check(RunRecord(events=events(["ok", "ok", "ok"])))
    assert v.status == PASS and v.counts == {"planned": 3, "ran": 3, "failed": 0}


def test_a_failed_step_and_the_steps_it_left_unrun_fail_with_evidence():
    v = procedure.check(RunRecord(events=events(["ok", "failed"], planned=5)))
    assert v.status == FAIL and v.counts == {"planned": 5, "ran": 2, "failed": 1}
    failed, unrun = v.evidence
    assert (failed["step"], failed["status"]) == ("6.2 nova: step 2", "failed")
    assert failed["error"].startswith("exit 255")
    assert (unrun["step"], unrun["status"]) == ("3 of 5 steps", "never ran")
    assert "6.2 nova: step 2 (failed): exit 255" in v.summary


def test_a_step_that_never_ended_fails():
    v = procedure.check(RunRecord(events=events(["ok", None])))
    assert v.status == FAIL and v.evidence[0]["status"] == "never ended"


def test_a_roll_that_never_began_is_unknown():
    assert procedure.check(RunRecord(events=[])).status == UNKNOWN
