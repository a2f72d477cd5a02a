"""Judging a run from its saved files: the request ledger and the events. Run at the end
of `harness run`, and again offline on a run folder."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from harness.checks import failed_requests, monotonic_version
from harness.checks.timeline import Timeline
from harness.checks.verdict import UNKNOWN, Verdict, worst
from harness.load import ledger
from harness.plan import events as events_mod

ORACLES = (failed_requests, monotonic_version)


def judge(run_dir: Path) -> tuple[str, list[Verdict]]:
    timeline = Timeline.from_events(events_mod.read(run_dir / "events.jsonl"))
    path = run_dir / "load" / "requests.jsonl"
    requests, _ = ledger.read(path) if path.exists() else ([], [])
    verdicts = []
    for oracle in ORACLES:
        try:
            verdicts.append(oracle.check(requests, timeline))
        except Exception as e:  # a crashing oracle is "unknown", never a crashed report
            verdicts.append(Verdict(oracle.NAME, UNKNOWN, f"the oracle crashed: {e!r}"))
    return worst(verdicts), verdicts


def as_dict(verdicts: list[Verdict]) -> dict:
    return {v.oracle: asdict(v) for v in verdicts}
