"""`harness prepare`: everything a scenario's run downloads, fetched ahead of it.

The Debian packages the cloud runs on (as root) and the release venvs of both sides of the
roll and tempest's, so that a gate's pre-run step, or a user before a first run, sees any install
failure on its own, with its cause, instead of at the start of a 10-minute run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from harness.backends.embedded import prereqs
from harness.releases import venv
from harness.scenario import Scenario
from harness.tempest import install as tempest


@dataclass(frozen=True)
class Prepared:
    what: str
    outcome: str  # "installed", "present", "built", "cached"
    seconds: float
    where: str = ""


def packages() -> Prepared:
    started = time.monotonic()
    missing = prereqs.missing_packages()
    if missing and prereqs.is_root():
        prereqs.install_packages(missing)
    outcome = "installed" if missing else "present"
    if prereqs.missing_packages():
        outcome = "missing (not root: not installed)"
    return Prepared("Debian packages", outcome, time.monotonic() - started, " ".join(missing))


def venvs(s: Scenario, cache_dir: Path) -> list[Prepared]:
    """Both sides' venvs (uwsgi compiles in them: the packages' gcc comes first)."""
    rows = []
    for side in (s.side_from, s.side_to):
        started = time.monotonic()
        path, built = venv.ensure(side, cache_dir)
        rows.append(Prepared(f"{side.name} venv", "built" if built else "cached",
                             time.monotonic() - started, str(path)))  # fmt: skip
    if s.tempest.enabled:
        started = time.monotonic()
        path, built = tempest.ensure(cache_dir)
        rows.append(Prepared("tempest venv", "built" if built else "cached",
                             time.monotonic() - started, str(path)))  # fmt: skip
    return rows
