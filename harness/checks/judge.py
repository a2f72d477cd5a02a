"""Judging a run from its saved files (see checks/record.py). Run at the end of
`harness run`, and again offline on a run folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.checks import findings
from harness.checks.findings import KnownFinding
from harness.checks.oracles import (
    disruption,
    failed_requests,
    hosts,
    latency,
    monotonic_version,
    procedure,
    resources,
    rpc_bus,
    rpc_end_to_end,
    rpc_pins,
    schema,
    service_logs,
    tempest,
)
from harness.checks.record import RunRecord
from harness.checks.verdict import UNKNOWN, Verdict, worst

ORACLES = (failed_requests, monotonic_version, rpc_bus, rpc_end_to_end, resources, hosts,
           procedure, service_logs, latency, schema, disruption, tempest, rpc_pins)  # fmt: skip
EVIDENCE = 20  # pieces of evidence kept per oracle in summaries; the ledgers hold the rest


@dataclass
class Judgement:
    verdict: str  # pass | fail | unknown
    verdicts: list[Verdict]
    stale: list[dict] = field(default_factory=list)  # known findings that did not occur
    waived: list[dict] = field(default_factory=list)  # what each finding that occurred waived
    raw: list[Verdict] = field(default_factory=list)  # the verdicts before known findings


def judge(run_dir: Path, known: tuple[KnownFinding, ...] = (),
          budget: latency.LatencyBudget | None = None) -> Judgement:  # fmt: skip
    """`known` and `budget` are the scenario's known findings and latency budget."""
    record = RunRecord.load(run_dir)
    record.latency = budget
    verdicts = []
    for oracle in ORACLES:
        try:
            verdicts.append(oracle.check(record))
        except Exception as e:  # a crashing oracle is "unknown", never a crashed report
            verdicts.append(Verdict(oracle.NAME, UNKNOWN, f"the oracle crashed: {e!r}"))
    units = {o.NAME: o.UNIT for o in ORACLES}
    waived = findings.waived(verdicts, known, units)
    applied, stale = findings.apply(verdicts, known)
    return Judgement(worst(applied), applied, stale, waived, verdicts)


def as_dict(verdicts: list[Verdict]) -> dict:
    out = {}
    for v in verdicts:
        d = asdict(v)
        d["evidence_total"] = len(v.evidence)
        d["evidence"] = d["evidence"][:EVIDENCE]
        out[v.oracle] = d
    return out
