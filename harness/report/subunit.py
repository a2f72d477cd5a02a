"""results.subunit: the run as a subunit v2 stream (python-subunit), a test per plan step
and per oracle — what Zuul's subunit tooling renders as it renders tempest's (the collect
role loads every run's into a stestr repository, which zuul-jobs' fetch-subunit-output
renders: testrepository.subunit and testr_results.html).

A step is a success, a failure (its error attached) or, if it never ended, a failure
saying so; an oracle is a success, a failure (its first evidence attached) or, for an
expected failure, a skip whose reason is the known finding. Ids are `steps.<id> <name>`
and `oracles.<name>`; times are the steps' own, the oracles' the run's end.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from subunit.v2 import StreamResultToBytes

SUBUNIT = "results.subunit"
EVIDENCE = 10


def write(run_dir: Path, results: dict) -> Path:
    path = run_dir / SUBUNIT
    with path.open("wb") as f:
        out = StreamResultToBytes(f)
        for step in results["steps"]:
            _step(out, step)
        ended = _time(results.get("ended") or results.get("started") or 0)
        for name, oracle in results["oracles"].items():
            _oracle(out, name, oracle, ended)
    return path


def _step(out, step: dict) -> None:
    test_id = f"steps.{step['id']} {step['name']}"
    start = _time(step["started"])
    end = _time(step["ended"] or step["started"])
    out.status(test_id=test_id, test_status="inprogress", timestamp=start)
    if step["status"] == "ok":
        _end(out, test_id, "success", end, _notes(step))
    elif step["status"] == "running":
        _end(out, test_id, "fail", end, "the step never ended (the run stopped during it)")
    else:
        _end(out, test_id, "fail", end, step.get("error") or "failed")


def _notes(step: dict) -> str | None:
    notes = []
    if step.get("forced_kill"):
        notes.append(f"forced kill: SIGKILL after {step['stop_wait']} s")
    if step.get("finding"):
        notes.append(f"finding: {step['finding']}")
    return "\n".join(notes) or None


def _oracle(out, name: str, oracle: dict, when: dt.datetime) -> None:
    test_id = f"oracles.{name}"
    evidence = "\n".join(json.dumps(e, sort_keys=True) for e in oracle["evidence"][:EVIDENCE])
    text = f"{oracle['summary']}\n{evidence}".strip()
    out.status(test_id=test_id, test_status="inprogress", timestamp=when)
    status = {"pass": "success", "xfail": "skip"}.get(oracle["verdict"], "fail")
    _end(out, test_id, status, when, text, "reason" if status == "skip" else "evidence")


def _end(out, test_id: str, status: str, when: dt.datetime, text: str | None,
         name: str = "details") -> None:  # fmt: skip
    if text:
        out.status(test_id=test_id, file_name=name, file_bytes=text.encode(),
                   mime_type="text/plain; charset=utf8", eof=True, timestamp=when)  # fmt: skip
    out.status(test_id=test_id, test_status=status, timestamp=when)


def _time(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc)
