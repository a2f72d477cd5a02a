"""Under GitHub Actions: the verdict and the oracles as a markdown job summary
(GITHUB_STEP_SUMMARY) and an `::error` annotation per failing oracle, so the run page
says what broke without the artifact being opened."""

from __future__ import annotations

import os
from pathlib import Path


def summary(results: dict, run_dir: Path) -> str:
    rel = results["releases"]
    lines = [f"## Rolling upgrade {rel['from']} → {rel['to']}: **{results['verdict']}**", "",
             f"Scenario `{results['scenario']}`, seed {results['seed']}; replay: "
             f"`{results.get('replay') or ''}`", ""]  # fmt: skip
    for src in (results.get("sides") or {}).get("to", {}).get("sources") or []:
        lines.insert(2, f"Rolled to {src['project']} from `{src['path']}`"
                        + (f" at `{src['commit'][:12]}`" if src.get("commit") else ""))  # fmt: skip
    if results.get("error"):
        lines += [f"The run stopped early: {results['error']}", ""]
    lines += ["| oracle | verdict | summary |", "|---|---|---|"]
    for name, o in results["oracles"].items():
        lines.append(f"| {name} | {o['verdict']} | {o['summary'].replace('|', '/')} |")
    lines += ["", f"Reports: `{run_dir}` (report.html, results.json, junit.xml)."]
    return "\n".join(lines) + "\n"


def annotations(results: dict) -> list[str]:
    out = []
    for name, o in results["oracles"].items():
        if o["verdict"] == "fail":
            text = o["summary"].replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            out.append(f"::error title=oracle {name}::{text}")
    if results.get("error"):
        out.append(f"::error title=run stopped::{results['error'].splitlines()[0]}")
    return out


def publish(results: dict, run_dir: Path, env: dict | None = None) -> bool:
    """Write the summary and print the annotations when GitHub Actions runs us."""
    env = os.environ if env is None else env
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as f:
        f.write(summary(results, run_dir))
    for line in annotations(results):
        print(line, flush=True)
    return True
