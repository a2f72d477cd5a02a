"""Per-release virtualenvs built with uv from the series' lock file, cached between runs.

A venv's directory name carries a digest of its lock file and the Python version, so a
changed lock builds a new venv and an unchanged one is reused. A venv counts as built only
once its `.complete` marker exists; a half-built one (an interrupted build) is rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.errors import UserError
from harness.releases.catalog import Series, uv_binary

log = logging.getLogger(__name__)

MARKER = ".complete"


def default_cache_dir() -> Path:
    env = os.environ.get("HARNESS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "upgrade-harness"


def venv_path(series: Series, cache_dir: Path) -> Path:
    digest = hashlib.sha256(series.lock_file.read_bytes())
    digest.update(sys.version.encode())
    return cache_dir / "venvs" / f"{series.name}-{digest.hexdigest()[:12]}"


def is_built(path: Path) -> bool:
    return (path / MARKER).exists()


def ensure(series: Series, cache_dir: Path) -> tuple[Path, bool]:
    """Return (venv path, built now?)."""
    path = venv_path(series, cache_dir)
    if is_built(path):
        return path, False
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("building the %s venv at %s (uv, from %s)", series.name, path, series.lock_file.name)
    env = dict(os.environ, VIRTUAL_ENV=str(path))
    try:
        _run(series, [uv_binary(), "venv", "--quiet", "--python", sys.executable, str(path)])
        install = ["pip", "install", "--quiet", "--no-deps", "-r", str(series.lock_file)]
        _run(series, [uv_binary(), *install], env=env)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # no half-built venv is left in the cache
        raise
    (path / MARKER).write_text(series.name + "\n")
    return path, True


def _run(series: Series, cmd: list[str], env: dict | None = None) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        log.error("%s failed (exit %d):\n%s", " ".join(cmd[:3]), done.returncode,
                  "\n".join(lines[-15:]))  # fmt: skip
        raise UserError(
            f"Could not build the {series.name} venv: uv {' '.join(cmd[1:3])} "
            f"failed ({_reason(lines)}); behind a proxy, uv needs HTTPS_PROXY and the proxy's "
            "CA in SSL_CERT_FILE, and a private index in UV_INDEX_URL (uv reads no pip.conf)."
        )


def _reason(lines: list[str]) -> str:
    """uv's innermost cause ("invalid peer certificate: UnknownIssuer"), else its last line."""
    causes = [line.strip() for line in lines if line.strip().startswith(("cause:", "error:"))]
    return (causes or [lines[-1].strip()])[-1].removeprefix("cause: ").removeprefix("error: ")
