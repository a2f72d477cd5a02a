"""results.json: the run's verdict, machine-readable, rebuilt from the run folder.

    {"verdict": "pass" | "fail", "run_id", "scenario", "seed",
     "releases": {"from", "to"}, "replay": "<command>", "started", "ended", "error",
     "sides": {"from"|"to": {"series", "projects": {name: version}, "sources": [{"project",
               "path", "commit", "dirty", "digest", "version"}], "constraints"}},
     "oracles": {name: {"verdict": "pass" | "fail" | "xfail", "judged": bool,
                        "summary", <counts>..., "evidence": [first 20], "evidence_total"}},
     "stale_findings": [...], "waived": [{"reason", "waived": {oracle: n}, "units"}],
     "load": {"requests", "failures", "operations"},
     "steps": [{"id", "name", "kind", "service", "node", "started", "ended", "duration",
                "status", "forced_kill", "stop_wait", "finding", "error"}]}

An oracle that could not judge ("unknown") has verdict "fail" and judged false: a gate
must not pass on what nobody checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import scenario as scenario_mod
from harness.checks import judge
from harness.checks.record import RunRecord
from harness.checks.verdict import PASS, UNKNOWN, XFAIL
from harness.errors import UserError
from harness.plan import events as events_mod

RUN = "run.json"
RESULTS = "results.json"


def read_run(run_dir: Path) -> dict:
    path = run_dir / RUN
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run folder (it has no {RUN}).")
    return json.loads(path.read_text())


def build(run_dir: Path) -> dict:
    run = read_run(run_dir)
    known, budget = judged_by(run_dir)
    judgement = judge.judge(run_dir, known, budget)
    record = RunRecord.load(run_dir)
    oracles = {}
    for name, d in judge.as_dict(judgement.verdicts).items():
        status = d["status"]
        oracles[name] = {
            "verdict": status if status in (PASS, XFAIL) else "fail",
            "judged": status != UNKNOWN, "summary": d["summary"], **d["counts"],
            "evidence": d["evidence"], "evidence_total": d["evidence_total"],
        }  # fmt: skip
    ok = judgement.verdict == PASS and not run.get("error")
    return {
        "verdict": "pass" if ok else "fail",
        **{
            k: run.get(k)
            for k in (
                "run_id",
                "scenario",
                "seed",
                "releases",
                "sides",
                "replay",
                "started",
                "ended",
                "error",
            )
        },  # fmt: skip
        "oracles": oracles,
        "stale_findings": judgement.stale,
        "waived": judgement.waived,
        "load": {
            "requests": len(record.requests),
            "failures": sum(r.failed for r in record.requests),
            "operations": len(record.operations),
        },  # fmt: skip
        "steps": steps(events_mod.read(run_dir / "events.jsonl")),
    }


def judged_by(run_dir: Path) -> tuple:
    """The run's scenario's known findings and latency budget (defaults without one)."""
    path = run_dir / "scenario.yaml"
    if not path.exists():
        return (), None
    s = scenario_mod.load(path, sources=False)
    return s.known_findings, s.latency


def steps(events: list[dict]) -> list[dict]:
    """Steps in the order they started, each with how it ended (running if it never did)."""
    out, by_id = [], {}
    for e in events:
        if e["event"] == "step-start":
            step = {"id": e["id"], "name": e["description"], "kind": e.get("kind"),
                    "service": e.get("service"), "node": e.get("node"), "started": e["t"],
                    "ended": None, "duration": None, "status": "running",
                    "forced_kill": False, "stop_wait": None, "finding": None,
                    "error": None}  # fmt: skip
            by_id[e["id"]] = step
            out.append(step)
        elif e["event"] == "step-end" and e["id"] in by_id:
            step = by_id[e["id"]]
            step.update(ended=e["t"], duration=round(e["t"] - step["started"], 3),
                        status=e.get("status", "ok"),
                        forced_kill=bool(e.get("forced_kill")), stop_wait=e.get("stop_wait"),
                        finding=e.get("finding"), error=e.get("error"))  # fmt: skip
    return out


def write(run_dir: Path, results: dict) -> Path:
    path = run_dir / RESULTS
    path.write_text(json.dumps(results, indent=1))
    return path
