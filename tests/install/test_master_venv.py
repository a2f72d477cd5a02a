"""A target the catalog does not list yet (master) is built from its source and the
upper-constraints given, as `harness prepare scenarios/nova-master.yaml --source ...
--constraints ...` builds it before a run: no lock is involved.

No master tree is reachable here (no git server), so nova 34.0.0's sdist stands for it,
versioned 35.0.0.0b1 as pbr would version a master checkout, and the constraints are the
2026.2 lock's pins in openstack/requirements' format (which pins no service project).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.releases import cache, catalog, constraints, locks, sdists, venv

ROOT = Path(__file__).resolve().parents[2]
MASTER_VERSION = "35.0.0.0b1"


def upper_constraints(path: Path) -> Path:
    """The newest lock's pins as `name===version`, without the services (as u-c has them)."""
    newest = list(catalog.CATALOG.values())[-1]
    services = {locks.normalise(p) for p in catalog.PROJECTS}
    pins = locks.pinned(newest.lock_file)
    path.write_text("".join(f"{n}==={v}\n" for n, v in sorted(pins.items()) if n not in services))
    return path


def test_a_master_side_is_built_from_its_source_and_the_constraints(tmp_path):
    nova = catalog.get("2026.2").versions["nova"]
    tree = sdists.fetch("nova", nova, cache.default_cache_dir())
    uc = upper_constraints(tmp_path / "upper-constraints.txt")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "--cache-dir", str(cache.default_cache_dir()),
         "prepare", "scenarios/nova-master.yaml", "--source", f"nova={tree}@{MASTER_VERSION}",
         "--constraints", str(uc)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("master venv"))
    path = Path(row.split()[-1])
    assert path.name.startswith("master-")
    found = venv.manifest(path)
    assert found["series"] == "master", found
    newest = list(catalog.CATALOG.values())[-1]
    assert found["projects"]["nova"] == MASTER_VERSION
    # the projects without a source are the newest release's, under the constraints
    assert found["projects"]["keystone"] == newest.versions["keystone"]
    # the venv is keyed by the constraints' content, so a cached one may name an earlier path
    assert found["constraints"]["digest"] == constraints.load(uc).digest
    versions = subprocess.run([str(path / "bin" / "python"), "-c",
                               "import importlib.metadata as m, json; print(json.dumps("
                               "[m.version('nova'), m.version('oslo.config')]))"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    nova_installed, oslo_config = json.loads(versions.stdout)
    assert nova_installed == MASTER_VERSION
    assert oslo_config == locks.pinned(newest.lock_file)["oslo-config"]
