"""Known findings: an oracle's failure becomes an expected failure only when every piece of
its evidence matches a known finding; other evidence keeps it failed; unused ones are stale."""

from harness.checks import findings
from harness.checks.findings import KnownFinding
from harness.checks.verdict import FAIL, PASS, XFAIL, Verdict, worst

OLD_API_500 = KnownFinding(
    "failed_requests", "old nova-api cannot load objects a newer one wrote (bug 123)",
    (("backend_release", "2026\\.1"), ("request", "GET nova GET /v2.1/servers.*"),
     ("status", "500")),
)  # fmt: skip


def failure(status=500, release="2026.1", request="GET nova GET /v2.1/servers/detail"):
    return {"request": request, "status": status, "backend_release": release, "step": "6.10"}


def failed(*evidence) -> Verdict:
    return Verdict("failed_requests", FAIL, f"{len(evidence)} failed", {}, list(evidence))


def test_a_failure_matching_a_known_finding_in_every_piece_is_expected():
    verdicts, stale = findings.apply([failed(failure(), failure())], (OLD_API_500,))
    assert verdicts[0].status == XFAIL and "bug 123" in verdicts[0].summary
    assert stale == [] and worst(verdicts) == PASS


def test_one_piece_of_evidence_outside_the_signature_keeps_the_failure():
    other = failure(status=503)
    verdicts, _ = findings.apply([failed(failure(), other)], (OLD_API_500,))
    assert verdicts[0].status == FAIL and worst(verdicts) == FAIL


def test_a_known_finding_only_speaks_for_its_own_oracle_and_is_stale_when_unused():
    other_oracle = Verdict("rpc_bus", FAIL, "lost", {}, [failure()])
    verdicts, stale = findings.apply([other_oracle], (OLD_API_500,))
    assert verdicts[0].status == FAIL
    assert stale == [OLD_API_500.describe()]


def test_a_passing_oracle_leaves_its_known_finding_stale():
    verdicts, stale = findings.apply([Verdict("failed_requests", PASS, "ok")], (OLD_API_500,))
    assert verdicts[0].status == PASS and len(stale) == 1


def test_nested_evidence_is_matched_by_dotted_names():
    pair = {"earlier": {"backend": "controller"}, "later": {"backend_release": "2026.1"}}
    k = KnownFinding("monotonic_version", "r", (("later.backend_release", "2026\\.1"),))
    assert k.matches(pair)
    assert not k.matches({"later": {"backend_release": "2026.2"}})
    assert not k.matches({"earlier": {}})  # a missing field never matches


def test_the_default_scenarios_conductor_finding_covers_work_accepted_just_before_the_stop():
    from pathlib import Path

    from harness import scenario

    root = Path(__file__).resolve().parents[2]
    known = scenario.load(root / "scenarios" / "nova-rolling.yaml").known_findings
    stop = "6.18 nova-conductor on controller: graceful stop (SIGTERM, bounded wait, SIGKILL)"

    def lost(accepted_during, soon):
        return {"operation": "server-create", "final": "pending", "steps": [accepted_during],
                "accepted_during": accepted_during, "began_within_1s": soon}  # fmt: skip

    def verdict(*evidence):
        v = Verdict("rpc_end_to_end", FAIL, "lost", {}, list(evidence))
        return findings.apply([v], known)[0][0].status

    api = "6.16 nova-api on compute-api: graceful stop"
    assert verdict(lost(stop, [])) == XFAIL  # accepted while it stopped
    # 0.04 s before its stop began (seen in CI), a handover step in between
    assert verdict(lost(api, ["6.17 nova-api: set compute-api ready", stop])) == XFAIL
    # lost elsewhere: still a failure, even if the roll later restarted the conductor
    assert verdict(lost(api, ["6.17 nova-api: set compute-api ready"])) == FAIL
