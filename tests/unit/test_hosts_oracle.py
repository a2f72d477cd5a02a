"""The hosts oracle on crafted hosts.json records: it must fail on a process left on the
old release, a missing pin, a backend not UP, and pass only when every check passed."""

import json

from harness.checks.oracles import hosts
from harness.checks.record import HOSTS, RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN


def chk(node, check, expected, actual):
    return {"node": node, "check": check, "expected": expected, "actual": actual,
            "ok": expected == actual}  # fmt: skip


def good_checks():
    out = []
    for node, address in (("controller", "10.250.0.11"), ("compute-api", "10.250.0.12")):
        out += [
            chk(node, "release nova-api", "2026.2", "2026.2"),
            chk(node, "release nova-compute", "2026.2", "2026.2"),
            chk(node, "config nova [upgrade_levels] compute", "auto", "auto"),
            chk(node, f"listening nova-api {address}:8774", "listening", "listening"),
        ]
    out += [chk("controller", f"backend nova-api/{n}", "UP", "UP")
            for n in ("controller", "compute-api")]  # fmt: skip
    return out


def record(checks, target="2026.2"):
    return RunRecord(hosts={"target": target, "started": 1.0, "duration": 0.5,
                            "hosts": {"controller": "netns://uh-br0-controller"},
                            "checks": checks})  # fmt: skip


def replace(checks, check, node, actual):
    out = [dict(c) for c in checks]
    for c in out:
        if c["check"] == check and c["node"] == node:
            c["actual"], c["ok"] = actual, c["expected"] == actual
    assert out != checks, "the crafted check must exist"
    return out


def test_passes_when_every_check_passed_and_counts_them():
    v = hosts.check(record(good_checks()))
    assert v.status == PASS
    assert v.counts == {"checks": 10, "failed": 0}
    assert "10 checks on 2 nodes" in v.summary and "2026.2" in v.summary


def test_a_process_on_the_old_release_fails_with_it_as_evidence():
    checks = replace(good_checks(), "release nova-compute", "compute-api", "2026.1")
    v = hosts.check(record(checks))
    assert v.status == FAIL and v.counts == {"checks": 10, "failed": 1}
    assert v.evidence == [chk("compute-api", "release nova-compute", "2026.2", "2026.1")]
    assert "release nova-compute on compute-api: expected 2026.2, got 2026.1" in v.summary


def test_a_missing_pin_fails():
    checks = replace(good_checks(), "config nova [upgrade_levels] compute", "controller", "unset")
    v = hosts.check(record(checks))
    assert v.status == FAIL and v.evidence[0]["actual"] == "unset"
    assert "1 config" in v.summary


def test_a_backend_down_fails_and_every_failure_is_evidence():
    checks = replace(good_checks(), "backend nova-api/compute-api", "controller", "DOWN")
    checks = replace(checks, "release nova-api", "controller", "2026.1")
    v = hosts.check(record(checks))
    assert v.status == FAIL and v.counts["failed"] == 2
    assert [c["check"] for c in v.evidence] == ["release nova-api", "backend nova-api/compute-api"]
    assert "1 backend, 1 release" in v.summary


def test_ok_must_be_true_not_just_truthy():
    checks = good_checks()
    checks[0] = {**checks[0], "ok": "yes"}
    assert hosts.check(record(checks)).status == FAIL


def test_a_probe_error_is_a_failure():
    checks = replace(good_checks(), "listening nova-api 10.250.0.12:8774", "compute-api",
                     "error: AssertionError: Unexpected exit code 1")  # fmt: skip
    assert hosts.check(record(checks)).status == FAIL


def test_no_record_or_no_checks_is_unknown_not_a_pass():
    assert hosts.check(RunRecord()).status == UNKNOWN
    assert hosts.check(record([])).status == UNKNOWN


def test_judged_from_a_saved_run_folder(tmp_path):
    checks = replace(good_checks(), "release nova-api", "compute-api", "2026.1")
    (tmp_path / HOSTS).write_text(json.dumps(record(checks).hosts))
    v = hosts.check(RunRecord.load(tmp_path))
    assert v.status == FAIL and v.evidence[0]["node"] == "compute-api"
