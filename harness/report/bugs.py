"""`harness findings <run-dir>`: each finding of a run written out as a bug report ready
for upstream (findings/NN-<oracle>.md in the run folder): the versions on each side, how
to reproduce it (the scenario, the seed, the replay command), what the harness saw (the
known finding's reason, or the oracle's summary), the evidence, and the service log lines
around it. One report per known finding that occurred, and one per oracle that failed
beyond its known findings (a new finding, to be understood before it is reported)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from harness.checks import findings, judge
from harness.checks.findings import KnownFinding
from harness.checks.verdict import FAIL
from harness.report import results

FOLDER = "findings"
SHOWN = 5  # pieces of evidence per report
BEFORE, AFTER = 5, 15  # log lines around a piece of evidence


def write(run_dir: Path) -> list[Path]:
    run = results.read_run(run_dir)
    known, budget = results.judged_by(run_dir)
    judgement = judge.judge(run_dir, known, budget)
    out = run_dir / FOLDER
    out.mkdir(exist_ok=True)
    written = []
    for n, (title, why, evidence) in enumerate(_findings(judgement, known), 1):
        path = out / f"{n:02d}-{_slug(title)}.md"
        path.write_text(_report(run, run_dir, title, why, evidence))
        written.append(path)
    return written


def _findings(judgement, known: tuple[KnownFinding, ...]) -> list[tuple[str, str, list]]:
    """(title, what was seen, its evidence): known findings that occurred, then failures."""
    out: dict[str, tuple[str, str, list]] = {}
    unmatched: dict[str, list] = {}
    for v in judgement.raw:
        for e in v.evidence:
            k = findings.match(known, v.oracle, e)
            if k is None:
                unmatched.setdefault(v.oracle, []).append(e)
                continue
            title = f"known: {k.reason.split(':')[0][:70]}"
            out.setdefault(k.reason, (title, k.reason, []))[2].append({"oracle": v.oracle, **e})
    failed = [v for v in judgement.verdicts if v.status == FAIL]
    rows = list(out.values())
    rows += [(f"new: {v.oracle}", v.summary, [{"oracle": v.oracle, **e}
                                              for e in unmatched.get(v.oracle, [])])
             for v in failed]  # fmt: skip
    return rows


def _report(run: dict, run_dir: Path, title: str, why: str, evidence: list) -> str:
    lines = [f"# {title}", "", why, "", "## Versions", ""]
    for side, data in (run.get("sides") or {}).items():
        projects = ", ".join(f"{p} {v}" for p, v in sorted(data.get("projects", {}).items()))
        lines.append(f"- {side} ({data.get('series')}): {projects}")
        lines += [f"  - {s['project']} from source {s['path']} (commit {s.get('commit')}, "
                  f"dirty {s.get('dirty')})" for s in data.get("sources", [])]  # fmt: skip
    shown = min(SHOWN, len(evidence))
    lines += ["", "## How to reproduce", "",
              f"Scenario `{run.get('scenario')}`, seed {run.get('seed')}, with upgrade-harness "
              "(two nodes in network namespaces, HAProxy in front, its default load):",
              "", f"    {run.get('replay')}", "",
              f"## Evidence ({len(evidence)}; the first {shown})", ""]  # fmt: skip
    for e in evidence[:SHOWN]:
        lines += ["```json", json.dumps(e, indent=1, sort_keys=True, default=str), "```"]
        excerpt = _log_excerpt(run_dir, e)
        if excerpt:
            lines += ["", "Log lines around it:", "", "```", *excerpt, "```", ""]
    return "\n".join(lines) + "\n"


def _log_excerpt(run_dir: Path, e: dict) -> list[str]:
    """The service log lines around a piece of evidence that names a node, a process and a
    time (a log record, or an operation's first error record)."""
    where = e.get("logged") if isinstance(e.get("logged"), dict) else e
    node, process = where.get("node"), where.get("process")
    path = run_dir / "logs" / str(node) / f"{process}.log"
    if not node or not process or not path.is_file():
        return []
    if isinstance(where.get("t"), (int, float)):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(where["t"]))
    elif where.get("time"):
        stamp = f" {where['time'][:8]}"
    else:
        return []
    text = path.read_text(errors="replace").splitlines()
    at = next((i for i, line in enumerate(text) if stamp in line[:30]), None)
    return [] if at is None else text[max(0, at - BEFORE) : at + AFTER]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
