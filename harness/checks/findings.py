"""Known findings: a real OpenStack bug can make a correct roll fail, and the harness
reports what it sees. A scenario may name such a bug — the oracle, a precise signature and
a reason. An oracle's failure whose every piece of evidence matches a known finding of that
oracle is an expected failure (xfail); any other evidence keeps it a failure; a known
finding that matched nothing in the run is reported as stale.

A signature maps evidence fields to regular expressions, matched in full against the
field's text; nested fields are named with dots (`later.backend_release`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from harness.checks.verdict import FAIL, XFAIL, Verdict


@dataclass(frozen=True)
class KnownFinding:
    oracle: str
    reason: str
    match: tuple[tuple[str, str], ...]  # (field, regular expression)

    def matches(self, evidence: dict) -> bool:
        flat = flatten(evidence)
        return all(
            name in flat and re.fullmatch(pattern, flat[name]) is not None
            for name, pattern in self.match
        )

    def describe(self) -> dict:
        return {"oracle": self.oracle, "reason": self.reason, "match": dict(self.match)}


def flatten(evidence: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for name, value in evidence.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = "" if value is None else str(value)
    return flat


def match(known: tuple[KnownFinding, ...], oracle: str, evidence: dict) -> KnownFinding | None:
    """The first known finding of `oracle` that this piece of its evidence matches."""
    return next((k for k in known if k.oracle == oracle and k.matches(evidence)), None)


def waived(
    verdicts: list[Verdict], known: tuple[KnownFinding, ...], units: dict[str, str]
) -> list[dict]:
    """For each known finding (by its reason) that matched, how much of each oracle's
    evidence it waived: {"reason", "waived": {oracle: n}, "units": {oracle: unit}}, the
    largest first. A finding that waives more than its evidence should is seen here."""
    by_reason: dict[str, dict[str, int]] = {}
    for v in verdicts:
        for e in v.evidence if v.status in (FAIL, XFAIL) else ():
            k = match(known, v.oracle, e)
            if k is not None:
                counts = by_reason.setdefault(k.reason, {})
                counts[v.oracle] = counts.get(v.oracle, 0) + 1
    rows = [{"reason": reason, "waived": counts,
             "units": {o: units.get(o, "pieces of evidence") for o in counts}}
            for reason, counts in by_reason.items()]  # fmt: skip
    return sorted(rows, key=lambda r: -sum(r["waived"].values()))


# What names a piece of evidence in one line, whichever oracle's it is, in this order.
BRIEF = ("process", "release", "node", "backend", "api", "operation", "request", "status",
         "method", "queue", "test", "step", "phase", "message", "kind")  # fmt: skip


def brief(evidence: dict) -> str:
    text = ", ".join(str(evidence[k]) for k in BRIEF if evidence.get(k) not in (None, ""))
    return (text or str(evidence))[:300]


def apply(verdicts: list[Verdict], known: tuple[KnownFinding, ...]) -> tuple[list, list]:
    """(verdicts with expected failures marked xfail, the known findings that were stale)."""
    seen: set[KnownFinding] = set()
    out = []
    for v in verdicts:
        mine = [k for k in known if k.oracle == v.oracle]
        if v.status != FAIL or not mine or not v.evidence:
            out.append(v)
            continue
        matched = [match(known, v.oracle, e) for e in v.evidence]
        seen.update(k for k in matched if k is not None)
        if all(matched):
            reasons = "; ".join(sorted({k.reason for k in matched}))
            v = replace(v, status=XFAIL, summary=f"known finding ({reasons}): {v.summary}")
        elif any(matched):  # the oracle's own "first" may be one the findings explain
            beyond = [e for e, k in zip(v.evidence, matched, strict=True) if k is None]
            v = replace(v, summary=f"{len(beyond)} of {len(v.evidence)} beyond the known "
                        f"findings, first: {brief(beyond[0])}; {v.summary}")  # fmt: skip
        out.append(v)
    return out, [k.describe() for k in known if k not in seen]
