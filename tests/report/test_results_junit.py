"""results.json and junit.xml rebuilt from recorded runs: a pass, a fail and an expected
failure; `harness report` rebuilds them, and bad input exits 2."""

import json
import xml.etree.ElementTree as ET

import pytest

from harness import cli, report

from .recorded import write_run


@pytest.fixture(params=["pass", "fail", "xfail"])
def run(request, tmp_path):
    return request.param, write_run(tmp_path / request.param, request.param)


def test_results_json_says_what_gates_need(run):
    kind, run_dir = run
    res = report.write_all(run_dir)
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved == json.loads(json.dumps(res))
    assert saved["verdict"] == ("fail" if kind == "fail" else "pass")
    assert saved["seed"] == 42 and saved["releases"] == {"from": "2026.1", "to": "2026.2"}
    oracles = saved["oracles"]
    assert set(oracles) == {"failed_requests", "monotonic_version", "rpc_bus",
                            "rpc_end_to_end", "resources", "hosts"}  # fmt: skip
    expected = {"pass": "pass", "fail": "fail", "xfail": "xfail"}[kind]
    assert oracles["failed_requests"]["verdict"] == expected
    assert oracles["failed_requests"]["count"] == (0 if kind == "pass" else 3)
    assert oracles["monotonic_version"]["violations"] == 0
    assert (oracles["rpc_bus"]["published"], oracles["rpc_bus"]["lost"]) == (10, 0)
    assert oracles["rpc_end_to_end"]["started"] == oracles["rpc_end_to_end"]["completed"] == 2
    assert saved["load"] == {"requests": 160, "failures": 0 if kind == "pass" else 3,
                             "operations": 2}  # fmt: skip
    first = saved["steps"][0]
    assert (first["id"], first["service"], first["node"], first["forced_kill"]) == (
        "6.5",
        "nova",
        "controller",
        True,
    )
    assert first["ended"] - first["started"] == pytest.approx(4.0)
    assert [s["status"] for s in saved["steps"]] == ["ok", "ok", "ok"]


def test_junit_has_a_case_per_step_and_oracle_with_the_evidence(run):
    kind, run_dir = run
    report.write_all(run_dir)
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert len(cases) == 3 + 6
    oracle = cases["oracle failed_requests"]
    if kind == "pass":
        assert oracle.find("failure") is None and oracle.find("skipped") is None
    elif kind == "fail":
        failure = oracle.find("failure")
        assert "3 of 160 requests failed" in failure.get("message")
        assert "req-d22" in failure.text and '"backend": "compute-api"' in failure.text
        assert int(suite.get("failures")) == 1
    else:
        skipped = oracle.find("skipped")
        assert skipped is not None and "crafted bug" in skipped.get("message")
        assert int(suite.get("failures")) == 0
    step = cases["6.5 nova-conductor on controller: graceful stop, start on 2026.2"]
    assert float(step.get("time")) == pytest.approx(4.0)
    assert "SIGKILL after 30.2 s" in step.find("system-out").text


def test_a_step_that_failed_fails_its_case_and_the_run(tmp_path):
    run_dir = write_run(tmp_path / "r")
    events = (
        (run_dir / "events.jsonl")
        .read_text()
        .replace('"id": "6.14", "status": "ok"', '"id": "6.14", "status": "failed"')
        .replace(
            '"error": null}\n{"t": 1800000026',
            '"error": "nova-api did not come up"}\n{"t": 1800000026',
        )
    )
    (run_dir / "events.jsonl").write_text(events)
    run = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**run, "error": "step 6.14 failed"}))
    res = report.write_all(run_dir)
    assert res["verdict"] == "fail" and res["steps"][2]["status"] == "failed"
    case = [c for c in ET.parse(run_dir / "junit.xml").iter("testcase")
            if c.get("name").startswith("6.14")][0]  # fmt: skip
    assert case.find("failure").get("message") == "nova-api did not come up"


def test_harness_report_rebuilds_and_exits_by_the_verdict(tmp_path, capsys):
    assert cli.main(["report", str(write_run(tmp_path / "p", "pass"))]) == 0
    out = capsys.readouterr().out
    assert "rpc_bus" in out and "verdict PASS" in out and "report.html" in out
    assert cli.main(["report", str(write_run(tmp_path / "f", "fail"))]) == 1


def test_harness_report_on_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"harness: {tmp_path} is not a run folder (it has no run.json)."
