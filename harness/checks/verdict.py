"""A verdict: pass, fail or unknown, a one-line summary, counts and the evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
XFAIL = "xfail"  # failed exactly as a known finding of the scenario says (checks/findings.py)


@dataclass(frozen=True)
class Verdict:
    oracle: str
    status: str
    summary: str
    counts: dict = field(default_factory=dict)
    evidence: list = field(default_factory=list)  # every offending record, attributed

    @property
    def passed(self) -> bool:
        return self.status == PASS


def worst(verdicts: list[Verdict]) -> str:
    """fail beats unknown beats pass (an oracle that could not judge is not a pass); an
    expected failure counts as a pass for the run."""
    statuses = {v.status for v in verdicts}
    return FAIL if FAIL in statuses else UNKNOWN if UNKNOWN in statuses else PASS
