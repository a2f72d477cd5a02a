"""Judging a run from its saved files (see checks/record.py). Run at the end of
`harness run`, and again offline on a run folder."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from harness.checks import failed_requests, monotonic_version
from harness.checks.record import RunRecord
from harness.checks.verdict import UNKNOWN, Verdict, worst

ORACLES = (failed_requests, monotonic_version)


def judge(run_dir: Path) -> tuple[str, list[Verdict]]:
    record = RunRecord.load(run_dir)
    verdicts = []
    for oracle in ORACLES:
        try:
            verdicts.append(oracle.check(record))
        except Exception as e:  # a crashing oracle is "unknown", never a crashed report
            verdicts.append(Verdict(oracle.NAME, UNKNOWN, f"the oracle crashed: {e!r}"))
    return worst(verdicts), verdicts


def as_dict(verdicts: list[Verdict]) -> dict:
    return {v.oracle: asdict(v) for v in verdicts}
