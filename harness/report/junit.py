"""junit.xml for Zuul and GitHub Actions: one test case per plan step and per oracle.
A failed step or oracle carries its evidence in the failure (the first offending
requests, messages, resources or checks), so a gate shows what broke without anything
else opened; an expected failure (a known finding) is a skipped case saying why."""

from __future__ import annotations

import json
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from harness.releases import sources

JUNIT = "junit.xml"
EVIDENCE = 10  # pieces of evidence per failed oracle in the XML


def suite(results: dict) -> TestSuite:
    name = (f"upgrade-harness {results['scenario']} {results['releases']['from']} -> "
            f"{results['releases']['to']} seed {results['seed']}")  # fmt: skip
    cases = [_step_case(s) for s in results["steps"]]
    cases += [_oracle_case(n, o) for n, o in results["oracles"].items()]
    if results.get("error"):
        case = TestCase("run", classname="run")
        case.add_error_info(message=results["error"])
        cases.append(case)
    properties = {"seed": results["seed"], "replay": results.get("replay") or ""}
    properties.update(side_properties(results.get("sides") or {}))
    return TestSuite(name, cases, properties=properties)


def side_properties(sides: dict) -> dict[str, str]:
    """`to.nova`: 34.0.0; `to.nova.source`: path (commit or tree, patch) — what was rolled."""
    props = {}
    for key, side in sides.items():
        for project, version in sorted((side.get("projects") or {}).items()):
            props[f"{key}.{project}"] = version
        for src in side.get("sources") or []:
            props[f"{key}.{src['project']}.source"] = sources.describe(src)
        if side.get("constraints"):
            props[f"{key}.constraints"] = side["constraints"]["path"]
    return props


def _step_case(step: dict) -> TestCase:
    case = TestCase(f"{step['id']} {step['name']}", classname=f"steps.{step['service']}",
                    elapsed_sec=step["duration"] or 0.0)  # fmt: skip
    notes = []
    if step["forced_kill"]:
        notes.append(f"forced kill: SIGKILL after {step['stop_wait']} s")
    if step["finding"]:
        notes.append(f"finding: {step['finding']}")
    case.stdout = "\n".join(notes) or None
    if step["status"] == "failed":
        case.add_failure_info(message=step["error"] or "failed")
    elif step["status"] == "running":
        case.add_error_info(message="the step never ended (the run stopped during it)")
    return case


def _oracle_case(name: str, oracle: dict) -> TestCase:
    case = TestCase(f"oracle {name}", classname="oracles")
    evidence = "\n".join(json.dumps(e, sort_keys=True) for e in oracle["evidence"][:EVIDENCE])
    more = oracle["evidence_total"] - min(EVIDENCE, len(oracle["evidence"]))
    if more > 0:
        evidence += f"\n... and {more} more (results.json, the ledgers)"
    if oracle["verdict"] == "fail":
        case.add_failure_info(message=oracle["summary"], output=evidence or None)
    elif oracle["verdict"] == "xfail":
        case.add_skipped_info(message=f"expected failure: {oracle['summary']}", output=evidence)
    else:
        case.stdout = oracle["summary"]
    return case


def write(run_dir: Path, results: dict) -> Path:
    path = run_dir / JUNIT
    path.write_text(to_xml_report_string([suite(results)], encoding="utf-8"))
    return path
