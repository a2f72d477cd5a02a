"""`harness selftest`: run the catalogs of deliberately wrong procedures
(scenarios/negative/*.yaml) and of patches to the target's code (scenarios/code/*.yaml:
each a small real diff to the N+1 sdist, harness/releases/sdists.py) and show that the
right oracle catches each — and that a harmless patch raises no false alarm.

Every case is a normal scenario run the way `harness run` runs it (job.run: up, roll with
the wrong procedure, judge, report, down), into reports/selftest-<stamp>/<case>/. Its
`selftest:` section names the oracles expected to catch it, and optionally a signature
one piece of an expected oracle's evidence must match (so the catch is for the right
reason). Verdicts:

- caught: an expected oracle failed (with evidence matching its signature, if any);
- passed: a case that expects nothing (`expect: []`, a harmless change) passed;
- false alarm: a case that expects nothing had an oracle fail;
- wrong oracle: oracles failed, but none of the expected ones for the expected reason;
- missed: no oracle failed;
- no verdict: the run left no results.json (it crashed before judging).

Exit status 1 unless every case is caught; 2 for an unknown case name.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import scenario as scenario_mod
from harness.backends.embedded import lifecycle
from harness.checks import judge
from harness.checks.findings import KnownFinding
from harness.errors import StepFailed, UserError
from harness.progress import log
from harness.report import results
from harness.run import job

CATALOGS = (Path("scenarios/negative"), Path("scenarios/code"))
CAUGHT, WRONG, MISSED, NO_VERDICT = "caught", "wrong oracle", "missed", "no verdict"
PASSED, FALSE_ALARM = "passed", "false alarm"
GOOD = (CAUGHT, PASSED)


@dataclass
class Outcome:
    case: str
    expected: list[str]
    fired: list[str]  # oracles that failed (judged), known findings excluded
    unknown: list[str]  # oracles that could not judge
    verdict: str
    duration: float
    report: str
    error: str | None = None  # how the run ended, if a step failed


def catalog(*directories: Path) -> dict[str, Path]:
    """case name (the file's stem) → scenario path, each catalog's cases in order."""
    cases: dict[str, Path] = {}
    for directory in directories or CATALOGS:
        for p in sorted(directory.glob("*.yaml"), key=_natural):
            if p.stem in cases:
                raise UserError(
                    f"Selftest case {p.stem} is in two catalogs ({cases[p.stem]}, {p})."
                )
            cases[p.stem] = p
    return cases


def _natural(path: Path) -> list:
    """Case 10 after case 9: the numbers in a name compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]


def choose(cases: dict[str, Path], wanted: str | None) -> dict[str, Path]:
    """`wanted`: comma-separated names, each a case's full name or its number."""
    if not cases:
        raise UserError("The selftest catalog has no scenarios.")
    if not wanted:
        return cases
    by_number = {name.split("-", 1)[0]: name for name in cases}
    chosen = {}
    for item in (w.strip() for w in wanted.split(",") if w.strip()):
        name = item if item in cases else by_number.get(item)
        if name is None:
            raise UserError(f"No selftest case {item!r}; the cases are {', '.join(cases)}.")
        chosen[name] = cases[name]
    return chosen


def run(cases: dict[str, Path], state_dir: Path, cache_dir: Path, report_dir: Path | None) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report_dir = (report_dir or Path("reports") / f"selftest-{stamp}").absolute()  # as job's
    report_dir.mkdir(parents=True, exist_ok=True)
    # Every case validates before the first cloud comes up: a typo fails in a second.
    scenarios = {name: scenario_mod.load(path) for name, path in cases.items()}
    for s in scenarios.values():
        job.plan_for(s.path, None)
    outcomes = []
    for name, path in cases.items():
        outcomes.append(run_case(name, path, scenarios[name], state_dir, cache_dir,
                                 report_dir / name))  # fmt: skip
        _save(report_dir, outcomes)
    print(table(outcomes), flush=True)
    good = sum(o.verdict in GOOD for o in outcomes)
    print(f"selftest: {good} of {len(outcomes)} as expected (caught, or passed where nothing "
          f"is expected); {report_dir / 'selftest.json'}")  # fmt: skip
    return 0 if good == len(outcomes) else 1


def run_case(name: str, path: Path, s: scenario_mod.Scenario, state_dir: Path,
             cache_dir: Path, run_dir: Path) -> Outcome:  # fmt: skip
    expected = list(s.selftest.expect) if s.selftest else []
    log.info("selftest case %s: expecting %s", name, ", ".join(expected) or "nothing")
    started = time.monotonic()
    error = None
    try:
        job.run(path, state_dir, cache_dir, None, False, run_dir)
    except StepFailed as e:  # the run is judged anyway; the table says how it ended
        error = str(e).splitlines()[0]
    finally:
        lifecycle.down(state_dir)  # never two clouds: the next case needs the bridge
    duration = time.monotonic() - started
    return judge_case(name, s, run_dir, duration, error)


def judge_case(name: str, s: scenario_mod.Scenario, run_dir: Path, duration: float,
               error: str | None = None) -> Outcome:  # fmt: skip
    expected = list(s.selftest.expect) if s.selftest else []
    path = run_dir / results.RESULTS
    if not path.is_file():
        return Outcome(name, expected, [], [], NO_VERDICT, duration, str(run_dir), error)
    res = json.loads(path.read_text())
    oracles = res["oracles"]
    fired = [o for o, v in oracles.items() if v["verdict"] == "fail" and v["judged"]]
    unknown = [o for o, v in oracles.items() if not v["judged"]]
    caught = [o for o in expected if o in fired and _for_the_reason(s, o, run_dir)]
    if not expected:  # a harmless change: the run must pass, and not by luck of a crash
        ok = res["verdict"] == "pass" and not unknown
        verdict = PASSED if ok else FALSE_ALARM
    else:
        verdict = CAUGHT if caught else WRONG if fired else MISSED
    return Outcome(name, expected, fired, unknown, verdict, duration, str(run_dir),
                   error or res.get("error"))  # fmt: skip


def _for_the_reason(s: scenario_mod.Scenario, oracle: str, run_dir: Path) -> bool:
    """Whether one piece of the oracle's evidence matches the case's signature for it
    (judged again from the records: results.json keeps only the first pieces)."""
    signature = dict(s.selftest.evidence).get(oracle)
    if not signature:
        return True
    wanted = KnownFinding(oracle, "selftest", signature)
    verdicts = judge.judge(run_dir, s.known_findings, s.latency).verdicts
    evidence = next(v.evidence for v in verdicts if v.oracle == oracle)
    return any(wanted.matches(e) for e in evidence if isinstance(e, dict))


def table(outcomes: list[Outcome]) -> str:
    rows = [("case", "expected", "fired", "verdict", "duration", "report")]
    for o in outcomes:
        fired = ", ".join(o.fired + [f"{u}?" for u in o.unknown]) or "-"
        rows.append((o.case, ", ".join(o.expected), fired, o.verdict, f"{o.duration:.0f} s",
                     o.report))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows
    ]
    notes = [f"  {o.case}: {o.error}" for o in outcomes if o.error]
    if notes:
        lines += ["how runs ended early:", *notes]
    lines.append("(oracle? = could not judge)")
    return "\n".join(lines)


def markdown(outcomes: list[Outcome]) -> str:
    """The table as the README shows it."""
    lines = ["| case | expected | fired | verdict | duration |", "|---|---|---|---|---|"]
    for o in outcomes:
        fired = ", ".join(o.fired + [f"{u}?" for u in o.unknown]) or "none"
        lines.append(f"| {o.case} | {', '.join(o.expected)} | {fired} | {o.verdict} | "
                     f"{o.duration:.0f} s |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _save(report_dir: Path, outcomes: list[Outcome]) -> None:
    (report_dir / "selftest.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    (report_dir / "selftest.md").write_text(markdown(outcomes))
