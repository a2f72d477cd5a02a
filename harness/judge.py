"""Judging a run from its saved files (see checks/record.py). Run at the end of
`harness run`, and again offline on a run folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.checks import (
    failed_requests,
    findings,
    hosts,
    monotonic_version,
    procedure,
    resources,
    rpc_bus,
    rpc_end_to_end,
)
from harness.checks.findings import KnownFinding
from harness.checks.record import RunRecord
from harness.checks.verdict import UNKNOWN, Verdict, worst

ORACLES = (failed_requests, monotonic_version, rpc_bus, rpc_end_to_end, resources, hosts,
           procedure)  # fmt: skip
EVIDENCE = 20  # pieces of evidence kept per oracle in summaries; the ledgers hold the rest


@dataclass
class Judgement:
    verdict: str  # pass | fail | unknown
    verdicts: list[Verdict]
    stale: list[dict] = field(default_factory=list)  # known findings that did not occur


def judge(run_dir: Path, known: tuple[KnownFinding, ...] = ()) -> Judgement:
    record = RunRecord.load(run_dir)
    verdicts = []
    for oracle in ORACLES:
        try:
            verdicts.append(oracle.check(record))
        except Exception as e:  # a crashing oracle is "unknown", never a crashed report
            verdicts.append(Verdict(oracle.NAME, UNKNOWN, f"the oracle crashed: {e!r}"))
    verdicts, stale = findings.apply(verdicts, known)
    return Judgement(worst(verdicts), verdicts, stale)


def as_dict(verdicts: list[Verdict]) -> dict:
    out = {}
    for v in verdicts:
        d = asdict(v)
        d["evidence_total"] = len(v.evidence)
        d["evidence"] = d["evidence"][:EVIDENCE]
        out[v.oracle] = d
    return out
