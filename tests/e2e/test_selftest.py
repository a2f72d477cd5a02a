"""The selftest on real services: the catalog cases fast enough for CI (`ci: true` in
their `selftest:` section) each run the way `harness run` does, and each must be caught by
the oracle it names, for the reason its signature gives. The whole catalog is
`tox -e selftest`.

The cases run on the negative scenarios' own network (uh-br0, as the default scenario), so
the machine must not have a cloud up there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness import selftest
from harness.scenario import load

from .conftest import footprint, harness, new_state_dir

ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "scenarios" / "negative"
CI_CASES = {name: path for name, path in selftest.catalog(CATALOG).items()
            if load(path).selftest.ci}  # fmt: skip


@pytest.fixture(scope="module")
def state_dir():
    path = new_state_dir()
    yield path
    harness(path, "down", timeout=300)
    shutil.rmtree(path, ignore_errors=True)


def test_the_ci_subset_is_two_or_three_cases(tmp_path):
    assert 2 <= len(CI_CASES) <= 3, sorted(CI_CASES)


@pytest.mark.timeout(1500)
def test_the_ci_cases_of_the_catalog_are_each_caught_by_their_oracle(state_dir, tmp_path):
    first = next(iter(CI_CASES.values()))
    before = footprint(state_dir, first)
    assert before.empty(), f"a cloud is already up on the negative scenarios' network: {before}"
    done = harness(state_dir, "selftest", "--catalog", str(CATALOG), "--cases",
                   ",".join(CI_CASES), "--report-dir", str(tmp_path), timeout=1500)  # fmt: skip
    print(done.stdout[-3000:])
    outcomes = {o["case"]: o for o in json.loads((tmp_path / "selftest.json").read_text())}
    assert list(outcomes) == list(CI_CASES)
    for name, o in outcomes.items():
        assert o["verdict"] == selftest.CAUGHT, (name, o, done.stderr[-2000:])
        assert set(o["expected"]) & set(o["fired"]), o
        assert (Path(o["report"]) / "results.json").is_file()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "caught" in done.stdout and str(tmp_path) in done.stdout
    after = footprint(state_dir, first)
    assert after.empty(), f"the selftest left a cloud behind: {after}"
