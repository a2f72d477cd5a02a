"""Reports built from a run folder's recorded files, by `harness run` at its end and by
`harness report <dir>` at any time: results.json (machine-readable), junit.xml and
results.subunit (gates), report.html (people); under GitHub Actions, a job summary and
annotations too."""

from __future__ import annotations

from pathlib import Path

from harness.report import html, junit, results, subunit


def write_all(run_dir: Path) -> dict:
    """Judge the recorded run again and write all three reports; returns the results."""
    res = results.build(run_dir)
    results.write(run_dir, res)
    junit.write(run_dir, res)
    subunit.write(run_dir, res)
    html.write(run_dir, res)
    return res


def summary_table(res: dict, run_dir: Path) -> str:
    """The closing lines on the console: one row per oracle, then where the report is."""
    width = max(len(n) for n in res["oracles"]) if res["oracles"] else 6
    lines = [f"{'oracle':<{width}}  verdict  summary"]
    for name, o in res["oracles"].items():
        lines.append(f"{name:<{width}}  {o['verdict']:<7}  {o['summary']}")
    lines.append(f"verdict {res['verdict'].upper()}; report {run_dir / html.REPORT}")
    return "\n".join(lines)
