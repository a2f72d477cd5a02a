"""Tempest from PyPI in a venv of its own, from a committed lock.

Tempest is branchless: one release tests every supported OpenStack series, so it needs
none of the sides' venvs and must not share their libraries. Its lock
(`harness/releases/locks/tempest.txt`, `harness lock tempest` regenerates it) pins tempest
and everything it imports; the venv's directory name carries the lock's digest, so a new
lock builds a new venv and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.errors import UserError
from harness.progress import log
from harness.releases import constraints
from harness.releases.catalog import uv_binary

REQUIREMENT = "tempest==47.0.0"
RESOLVE_DATE = "2026-12-01"  # its libraries as of this day, like a series' lock
LOCK = Path(__file__).resolve().parent.parent / "releases" / "locks" / "tempest.txt"
MARKER = ".complete"


def venv_path(cache_dir: Path) -> Path:
    digest = hashlib.sha256(LOCK.read_bytes())
    digest.update(sys.version.encode())
    return cache_dir / "venvs" / f"tempest-{digest.hexdigest()[:12]}"


def ensure(cache_dir: Path) -> tuple[Path, bool]:
    """The tempest venv, built if it is not; (path, built now?)."""
    path = venv_path(cache_dir)
    if (path / MARKER).exists():
        return path, False
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("building the tempest venv at %s (uv, from %s)", path, LOCK.name)
    try:
        _uv(["venv", "--quiet", "--python", sys.executable, str(path)])
        _uv(["pip", "install", "--quiet", "--no-deps", "-r", str(LOCK),
             *constraints.uv_index_args()], VIRTUAL_ENV=str(path))  # fmt: skip
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # never a half-built venv in the cache
        raise
    (path / MARKER).write_text(REQUIREMENT + "\n")
    return path, True


def tempest_binary(path: Path) -> Path:
    return path / "bin" / "tempest"


def compile_lock(python: str = f"{sys.version_info.major}.{sys.version_info.minor}") -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".in", delete=False) as req:
        req.write(REQUIREMENT + "\n")
    try:
        _uv(["pip", "compile", "--quiet", "--python", python, "--exclude-newer", RESOLVE_DATE,
             "--no-header", "--no-annotate", req.name, "-o", str(LOCK)])  # fmt: skip
    finally:
        Path(req.name).unlink()
    return LOCK


def _uv(args: list[str], **env: str) -> None:
    done = subprocess.run([uv_binary(), *args], env=dict(os.environ, **env),
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"Could not build the tempest venv: uv {args[0]} failed ({last}); "
                        "behind a proxy, uv needs HTTPS_PROXY, a private index pip.conf "
                        "or UV_INDEX_URL.")  # fmt: skip
