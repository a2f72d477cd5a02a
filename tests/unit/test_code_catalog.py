"""The code catalog (scenarios/code/): each case is the default scenario (c7: with neutron's
agents) with one project of the target patched from its sdist — a small real diff — and
names the oracle that must catch it; the harmless case expects nothing and must pass."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.checks import judge
from harness.checks.verdict import FAIL, Verdict
from harness.plan import wrong
from harness.releases import cache, catalog, sdists
from harness.run import selftest
from harness.scenario import Expectation, load, read

ROOT = Path(__file__).parents[2]
CODE = ROOT / "scenarios" / "code"
DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"
CASES = selftest.catalog(CODE)
ORACLES = {o.NAME for o in judge.ORACLES}


def data_of(path: Path) -> dict:
    return read(path, sources=False)[0]


def test_the_default_catalogs_hold_both_kinds_of_case_under_distinct_names():
    both = selftest.catalog(*(ROOT / c for c in selftest.CATALOGS))
    assert set(CASES) <= set(both) and any(name[0].isdigit() for name in both)
    assert list(selftest.choose(CASES, "c1")) == ["c1-rpc-argument-without-can-send-version"]


def test_a_harmless_case_and_the_six_classes_of_breaking_patch_are_catalogued():
    expects = {name: load(p, sources=False).selftest.expect for name, p in CASES.items()}
    assert [name for name, e in expects.items() if not e] == ["c0-harmless-log-line"]
    # c1 RPC argument, c2 object format, c3 expand migration, c4 microversion, c5 option,
    # c6 upgrade check: the six classes, one case each; c7 neutron's object
    # versions to its agents.
    breaking = sorted(name.split("-", 1)[0] for name, e in expects.items() if e)
    assert breaking == [f"c{i}" for i in range(1, 8)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_code_case_is_the_default_roll_with_a_patched_target(name):
    s = load(CASES[name], sources=False)
    assert s.selftest is not None and set(s.selftest.expect) <= ORACLES
    assert wrong.describe(s.plan) == ""  # the procedure is right: only the code is wrong
    assert s.known_findings == load(DEFAULT).known_findings
    assert (s.release_from, s.release_to) == ("2026.1", "2026.2")
    to = data_of(CASES[name])["releases"]["to"]
    [(project, source)] = to["sources"].items()  # one project patched, from its sdist
    patch = Path(source["patch"])
    assert patch.is_absolute() and patch.is_file(), patch
    touched = re.findall(r"^\+\+\+ b/(\S+)$", patch.read_text(), re.M)
    assert touched and all(t.startswith(f"{project}/") and t.endswith(".py") for t in touched)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_code_cases_patch_applies_to_the_sdist_it_names(name):
    # The sdist comes from the index once (12 MB, cached), as `harness run` fetches it.
    to = data_of(CASES[name])["releases"]["to"]
    [(project, source)] = to["sources"].items()
    version = catalog.get(to["series"]).versions[project]
    tree = sdists.fetch(project, version, cache.default_cache_dir())
    check = subprocess.run(["git", "apply", "--check", "-p1", source["patch"]],
                           cwd=tree, capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr


def results(tmp_path: Path, verdict: str, failed=(), unjudged=()) -> Path:
    oracles = {o: {"verdict": "fail" if o in failed or o in unjudged else "pass",
                   "judged": o not in unjudged} for o in ORACLES}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps({"verdict": verdict, "oracles": oracles}))
    return tmp_path


@pytest.mark.parametrize(("verdict", "failed", "unjudged", "outcome"), [
    ("pass", (), (), selftest.PASSED),
    ("fail", ("rpc_bus",), (), selftest.FALSE_ALARM),
    ("fail", (), ("hosts",), selftest.FALSE_ALARM),   # nobody judged it: no pass either
    ("fail", (), (), selftest.FALSE_ALARM),           # a step failed, every oracle passed
])  # fmt: skip
def test_a_case_expecting_nothing_passes_only_on_a_clean_verdict(tmp_path, verdict, failed,
                                                                 unjudged, outcome):  # fmt: skip
    s = replace(load(DEFAULT), selftest=Expectation((), "harmless"))
    out = selftest.judge_case("c0", s, results(tmp_path, verdict, failed, unjudged), 1.0)
    assert out.verdict == outcome


@pytest.mark.parametrize("name", sorted(n for n in CASES if not n.startswith("c0-")))
def test_a_breaking_case_names_the_evidence_it_must_be_caught_by(name):
    """Caught for the right reason: a signature per case, for an oracle it expects."""
    s = load(CASES[name], sources=False)
    signatures = dict(s.selftest.evidence)
    assert signatures and set(signatures) <= set(s.selftest.expect), name
    assert all(signatures.values()), signatures


def test_a_catch_for_another_reason_than_the_signature_is_the_wrong_oracle(tmp_path, monkeypatch):
    """c4 expects monotonic_version with 2.102 offered later: the same oracle failing on
    another version is not its catch."""
    s = load(CASES["c4-max-microversion-goes-down"], sources=False)
    oracles = {o: {"verdict": "fail" if o == "monotonic_version" else "pass", "judged": True}
               for o in ORACLES}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps({"oracles": oracles}))

    def judged(later: str):
        evidence = [{"earlier": {"max_version": "2.103"}, "later": {"max_version": later}}]
        verdict = Verdict("monotonic_version", FAIL, "regressions", evidence=evidence)
        return lambda *_: SimpleNamespace(verdicts=[verdict])

    monkeypatch.setattr(selftest.judge, "judge", judged("2.101"))
    assert selftest.judge_case("c4", s, tmp_path, 1.0).verdict == selftest.WRONG
    monkeypatch.setattr(selftest.judge, "judge", judged("2.102"))
    assert selftest.judge_case("c4", s, tmp_path, 1.0).verdict == selftest.CAUGHT
