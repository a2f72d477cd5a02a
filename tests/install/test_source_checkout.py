"""A source checkout is built into a wheel that pbr versions from git, as `--source
nova=PATH` builds it — also when the checkout belongs to another user, as Zuul's does (the
job runs as root on the zuul user's checkout, and tox drops SUDO_UID): git refuses such a
repository ("detected dubious ownership") unless safe.directory allows it, and pbr's git
calls run inside uv's isolated build. uv fetches pbr and setuptools from the index."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.releases import catalog, sources, venv
from harness.releases.sides import Side

NOBODY = 65534
SETUP_PY = "import setuptools\n\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n"
SETUP_CFG = "[metadata]\nname = nova\nsummary = a tiny nova\n\n[files]\npackages = nova\n"

pytestmark = pytest.mark.skipif(not shutil.which("git"), reason="needs git (pbr versions from it)")


def git(path: Path, *args: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")  # fmt: skip
    subprocess.run(["git", "-C", str(path), *args], env=env, check=True, capture_output=True)


def pbr_checkout(path: Path) -> Path:
    """A pbr nova tagged 34.0.0 (2026.2's major version) with one commit past the tag."""
    (path / "nova").mkdir(parents=True)
    (path / "nova" / "__init__.py").write_text("")
    (path / "setup.py").write_text(SETUP_PY)
    (path / "setup.cfg").write_text(SETUP_CFG)
    git(path, "init", "-q")
    git(path, "add", ".")
    git(path, "commit", "-qm", "first")
    git(path, "tag", "-a", "34.0.0", "-m", "34.0.0")
    (path / "nova" / "manager.py").write_text("x = 1\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "second")
    return path


@pytest.mark.timeout(900)
@pytest.mark.parametrize("owner", ["this user", "another user"])
def test_a_checkout_is_built_as_pbr_versions_it_from_git(tmp_path, monkeypatch, owner):
    if owner == "another user" and os.geteuid() != 0:
        pytest.skip("needs root (to give the checkout to another user, as Zuul's is to root)")
    # Only the harness may make git trust the checkout: no global or system safe.directory,
    # and no SUDO_UID (which git trusts as root's real user; tox drops it anyway).
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("SUDO_UID", raising=False)
    tree = pbr_checkout(tmp_path / "nova")
    if owner == "another user":
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(tree)], check=True)
        refused = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"],
                                 capture_output=True, text=True)  # fmt: skip
        assert "dubious ownership" in refused.stderr  # what pbr would meet on its own
    src = sources.inspect("nova", tree)
    assert src.commit is not None and not src.dirty
    out = tmp_path / "wheels"
    out.mkdir()
    wheel = venv._build_wheel(Side(catalog.get("2026.2"), (src,)), src, out)
    # pbr's version of a commit past the 34.0.0 tag: only git can have told it
    assert wheel.name.startswith("nova-34.0.1.dev1-"), wheel.name
