"""A source of another series is refused once pbr (here setuptools) has versioned it: a
stable/2026.1 checkout given as the 2026.2 side ends `harness prepare` with exit status 2
and one sentence, and leaves no venv of it in the cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.releases import cache

ROOT = Path(__file__).resolve().parents[2]


def old_nova(path: Path) -> Path:
    """A tiny tree that declares itself nova 33.0.1 (2026.1's major version)."""
    (path / "nova").mkdir(parents=True)
    (path / "nova" / "__init__.py").write_text("")
    (path / "setup.cfg").write_text("[metadata]\nname = nova\nversion = 33.0.1\n")
    (path / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n'
                                         'build-backend = "setuptools.build_meta"\n')  # fmt: skip
    (path / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: nova\nVersion: 33.0.1\n")
    return path


def test_a_2026_1_tree_given_as_the_2026_2_side_is_refused(tmp_path):
    tree = old_nova(tmp_path / "nova")
    venvs = cache.default_cache_dir() / "venvs"
    before = set(venvs.iterdir()) if venvs.exists() else set()
    done = subprocess.run(
        [sys.executable, "-m", "harness", "--cache-dir", str(cache.default_cache_dir()),
         "prepare", "scenarios/nova-rolling.yaml", "--source", f"nova={tree}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        f"harness: Source {tree} is nova 33.0.1, but the 2026.2 side needs nova 34.x; "
        "roll it as the 2026.1 side."
    )
    # the refused side's venv is not left behind (the 2026.1 side's may be new)
    assert [p.name for p in set(venvs.iterdir()) - before if p.name.startswith("2026.2-")] == []
