"""Where the harness keeps what it downloads and builds: release venvs, sdists, patched
trees (HARNESS_CACHE_DIR, else ~/.cache/upgrade-harness)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    env = os.environ.get("HARNESS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "upgrade-harness"
