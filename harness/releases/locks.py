"""Lock files: one pinned requirements file per series, committed to the repository.

`harness lock [SERIES ...]` regenerates them with `uv pip compile --exclude-newer`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from harness.releases.catalog import Series, uv_binary

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def compile_lock(series: Series, python: str = PYTHON) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".in", delete=False) as req:
        req.write("\n".join(series.requirements()) + "\n")
    cmd = [
        uv_binary(), "pip", "compile", "--quiet", "--python", python,
        "--exclude-newer", series.resolve_date,
        "--no-header", "--no-annotate",
        req.name, "-o", str(series.lock_file),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    Path(req.name).unlink()
    return series.lock_file


def pinned(lock_file: Path) -> dict[str, str]:
    """name → version for every pin in a lock file (names normalised as PyPI does)."""
    pins = {}
    for line in lock_file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.split(";")[0].strip()
    return pins


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
