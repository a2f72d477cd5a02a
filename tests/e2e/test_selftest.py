"""The selftest on real services: the catalog cases fast enough for CI (`ci: true` in
their `selftest:` section) each run the way `harness run` does, and each must be caught by
the oracle it names, for the reason its signature gives. The whole catalog is
`tox -e selftest`.

The cases run on the e2e cloud's bridge and addresses (their copies say so), so they can
run beside a developer's cloud on the default network.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness import selftest
from harness.scenario import load

from .conftest import SCENARIO, footprint, harness

ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "scenarios" / "negative"
CI_CASES = {name: path for name, path in selftest.catalog(CATALOG).items()
            if load(path).selftest.ci}  # fmt: skip


def on_e2e_network(path: Path, into: Path) -> Path:
    """The case's scenario, moved to the e2e cloud's bridge and node addresses."""
    doc, e2e = yaml.safe_load(path.read_text()), yaml.safe_load(SCENARIO.read_text())
    doc["network"] = e2e["network"]
    addresses = {n["name"]: n["address"] for n in e2e["nodes"]}
    for node in doc["nodes"]:
        node["address"] = addresses[node["name"]]
    out = into / path.name
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def test_the_ci_subset_is_two_or_three_cases(tmp_path):
    assert 2 <= len(CI_CASES) <= 3, sorted(CI_CASES)


@pytest.mark.timeout(1500)
def test_the_ci_cases_of_the_catalog_are_each_caught_by_their_oracle(state_dir, tmp_path):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for path in CI_CASES.values():
        on_e2e_network(path, catalog)
    before = footprint(state_dir)
    assert before.empty(), f"a cloud is already up on the e2e network: {before}"
    reports = tmp_path / "reports"
    done = harness(state_dir, "selftest", "--catalog", str(catalog), "--cases",
                   ",".join(CI_CASES), "--report-dir", str(reports), timeout=1500)  # fmt: skip
    print(done.stdout[-3000:])
    outcomes = {o["case"]: o for o in json.loads((reports / "selftest.json").read_text())}
    assert list(outcomes) == list(CI_CASES)
    for name, o in outcomes.items():
        assert o["verdict"] == selftest.CAUGHT, (name, o, done.stderr[-2000:])
        assert set(o["expected"]) & set(o["fired"]), o
        assert (Path(o["report"]) / "results.json").is_file()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "caught" in done.stdout and str(reports) in done.stdout
    after = footprint(state_dir)
    assert after.empty(), f"the selftest left a cloud behind: {after}"
