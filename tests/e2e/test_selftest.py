"""The selftest on real services: the catalog cases fast enough for CI (`ci: true` in
their `selftest:` section) each run the way `harness run` does, and each must be caught by
the oracle it names, for the reason its signature gives — two wrong procedures
(scenarios/negative) and two patches to the target's nova (scenarios/code; the harmless
patch is test_rolling_upgrade's roll). The whole of both catalogs is `tox -e selftest`.

The cases run on the e2e cloud's bridge and addresses (their copies say so), so they can
run beside a developer's cloud on the default network.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.run import selftest
from harness.scenario import load, read

from .conftest import SCENARIO, footprint, harness

ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "scenarios" / "negative"
CODE = ROOT / "scenarios" / "code"
CI_CASES = {name: path for name, path in selftest.catalog(CATALOG).items()
            if load(path).selftest.ci}  # fmt: skip
CI_CODE = {name: path for name, path in selftest.catalog(CODE).items()
           if load(path, sources=False).selftest.ci}  # fmt: skip


def on_e2e_network(path: Path, into: Path) -> Path:
    """The case's scenario (what it extends merged in, its patches' paths absolute), moved
    to the e2e cloud's bridge and node addresses. Tempest is off where the case does not
    expect it: its runs add two minutes to each case, and its own oracle is proven by
    test_oracles_fire and the default roll (`harness selftest` itself runs it)."""
    doc, e2e = read(path, sources=False)[0], yaml.safe_load(SCENARIO.read_text())
    if "tempest" not in doc["selftest"]["expect"]:
        doc["tempest"] = {"enabled": False}
    doc["network"] = e2e["network"]
    addresses = {n["name"]: n["address"] for n in e2e["nodes"]}
    for node in doc["nodes"]:
        node["address"] = addresses[node["name"]]
    out = into / path.name
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def test_the_ci_subset_is_two_or_three_procedures_and_two_patches(tmp_path):
    assert 2 <= len(CI_CASES) <= 3, sorted(CI_CASES)
    assert len(CI_CODE) == 2 and all(load(p, sources=False).selftest.expect
                                     for p in CI_CODE.values()), sorted(CI_CODE)  # fmt: skip


@pytest.mark.timeout(1500)
def test_the_ci_cases_of_the_catalog_are_each_caught_by_their_oracle(state_dir, tmp_path):
    run_cases(CI_CASES, state_dir, tmp_path)


@pytest.mark.timeout(2400)
def test_the_ci_patches_of_the_code_catalog_are_each_caught_by_their_oracle(state_dir,
                                                                            tmp_path):  # fmt: skip
    run_cases(CI_CODE, state_dir, tmp_path)


def run_cases(cases: dict[str, Path], state_dir: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for path in cases.values():
        on_e2e_network(path, catalog)
    before = footprint(state_dir)
    assert before.empty(), f"a cloud is already up on the e2e network: {before}"
    reports = tmp_path / "reports"
    done = harness(state_dir, "selftest", "--catalog", str(catalog), "--cases",
                   ",".join(cases), "--report-dir", str(reports), timeout=2400)  # fmt: skip
    print(done.stdout[-3000:])
    outcomes = {o["case"]: o for o in json.loads((reports / "selftest.json").read_text())}
    assert list(outcomes) == list(cases)
    for name, o in outcomes.items():
        assert o["verdict"] == selftest.CAUGHT, (name, o, done.stderr[-2000:])
        assert set(o["expected"]) & set(o["fired"]), o
        assert (Path(o["report"]) / "results.json").is_file()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "caught" in done.stdout and str(reports) in done.stdout
    after = footprint(state_dir)
    assert after.empty(), f"the selftest left a cloud behind: {after}"
