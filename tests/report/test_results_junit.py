"""results.json and junit.xml rebuilt from recorded runs: a pass, a fail and an expected
failure; `harness report` rebuilds them, and bad input exits 2."""

import json
import xml.etree.ElementTree as ET

import pytest
import subunit
import testtools

from harness import cli, report
from harness.report import github

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
                            "rpc_end_to_end", "resources", "hosts", "procedure",
                            "service_logs", "latency", "schema", "disruption",
                            "tempest", "rpc_pins"}  # fmt: skip
    expected = {"pass": "pass", "fail": "fail", "xfail": "xfail"}[kind]
    assert oracles["failed_requests"]["verdict"] == expected
    assert oracles["failed_requests"]["count"] == (0 if kind == "pass" else 3)
    assert oracles["monotonic_version"]["violations"] == 0
    # the restart's refusals and HAProxy's DOWN fell while the backend was drained
    assert (oracles["disruption"]["verdict"], oracles["disruption"]["excused"]) == ("pass", 4)
    assert (oracles["rpc_bus"]["published"], oracles["rpc_bus"]["lost"]) == (10, 0)
    # the new conductor chose 6.5 from 72 while both computes ran 2026.1 (72)
    assert (oracles["rpc_pins"]["verdict"], oracles["rpc_pins"]["selections"]) == ("pass", 1)
    assert (oracles["tempest"]["verdict"], oracles["tempest"]["runs"]) == (
        "pass", {"baseline": 1, "during": 1, "after": 1})  # fmt: skip
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
    assert len(cases) == 3 + 13
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


def test_harness_report_rebuilds_and_exits_by_the_verdict(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert cli.main(["report", str(write_run(tmp_path / "p", "pass"))]) == 0
    out = capsys.readouterr().out
    assert "rpc_bus" in out and "verdict PASS" in out and "report.html" in out
    # Under GitHub Actions, re-judging a run summarizes it there as `harness run` does.
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli.main(["report", str(write_run(tmp_path / "f", "fail"))]) == 1
    assert "**fail**" in summary.read_text()
    assert "::error title=oracle failed_requests::" in capsys.readouterr().out


def test_harness_report_on_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"harness: {tmp_path} is not a run folder (it has no run.json)."


SIDES = {
    "from": {"series": "2026.1", "sources": [], "constraints": None,
             "projects": {"nova": "33.0.0", "keystone": "29.0.1"}},
    "to": {"series": "2026.2", "projects": {"nova": "34.0.1.dev3", "keystone": "30.0.0"},
           "sources": [{"project": "nova", "path": "/src/nova", "commit": "a" * 40,
                        "dirty": True, "digest": "d" * 64, "version": None, "patch": None}],
           "constraints": {"path": "/src/requirements/upper-constraints.txt",
                           "digest": "c" * 64, "pins": 900}},
}  # fmt: skip


def test_what_was_rolled_reaches_results_junit_and_the_html_header(tmp_path):
    run_dir = write_run(tmp_path / "sides", "pass")
    run = json.loads((run_dir / "run.json").read_text())
    run["sides"] = SIDES
    run["replay"] += " --source nova=/src/nova"
    (run_dir / "run.json").write_text(json.dumps(run))
    saved = report.write_all(run_dir)
    assert saved["sides"] == SIDES and saved["replay"].endswith("--source nova=/src/nova")
    props = {p.get("name"): p.get("value")
             for p in ET.parse(run_dir / "junit.xml").getroot().iter("property")}  # fmt: skip
    assert props["to.nova"] == "34.0.1.dev3" and props["from.nova"] == "33.0.0"
    assert props["to.nova.source"] == f"/src/nova (commit {'a' * 40}, uncommitted changes)"
    assert props["to.constraints"] == "/src/requirements/upper-constraints.txt"
    assert props["replay"].endswith("--source nova=/src/nova")
    html = (run_dir / "report.html").read_text()
    assert "/src/nova (commit " in html and "nova 34.0.1.dev3" in html


def read_subunit(path):
    """Each test id's final status and attachments, parsed back with python-subunit."""
    tests = {}
    with path.open("rb") as f:
        stream = subunit.ByteStreamToStreamResult(f, non_subunit_name="stdout")
        result = testtools.StreamToDict(lambda t: tests.__setitem__(t["id"], t))
        result.startTestRun()
        stream.run(result)
        result.stopTestRun()
    return tests


def test_the_subunit_stream_has_a_test_per_step_and_oracle(run):
    kind, run_dir = run
    res = report.write_all(run_dir)
    tests = read_subunit(run_dir / "results.subunit")
    steps = {f"steps.{s['id']} {s['name']}" for s in res["steps"]}
    oracles = {f"oracles.{n}" for n in res["oracles"]}
    assert set(tests) == steps | oracles
    assert all(tests[t]["status"] == "success" for t in steps)
    wanted = {"pass": "success", "fail": "fail", "xfail": "skip"}[kind]
    failed = tests["oracles.failed_requests"]
    assert failed["status"] == wanted
    if kind != "pass":
        attached = b"".join(b for d in failed["details"].values() for b in d.iter_bytes())
        assert b"request_id" in attached or b"known finding" in attached
    first = res["steps"][0]
    span = tests[f"steps.{first['id']} {first['name']}"]["timestamps"]
    assert (span[1] - span[0]).total_seconds() == pytest.approx(first["duration"], abs=0.01)


def test_github_actions_gets_a_summary_and_an_error_per_failing_oracle(run, tmp_path):
    kind, run_dir = run
    res = report.write_all(run_dir)
    assert not github.publish(res, run_dir, env={})  # outside GitHub Actions: nothing
    target = tmp_path / "summary.md"
    assert github.publish(res, run_dir, env={"GITHUB_STEP_SUMMARY": str(target)})
    text = target.read_text()
    assert text.startswith(f"## Rolling upgrade 2026.1 → 2026.2: **{res['verdict']}**")
    assert "| failed_requests |" in text and str(run_dir) in text
    errors = github.annotations(res)
    if kind == "fail":
        assert errors and errors[0].startswith("::error title=oracle failed_requests::")
    else:
        assert errors == []
