"""What the benchmarks that work on a cloud at its base release share: the cloud, either
one already up (kept up) or one brought up in a temporary state dir and taken down after,
and a run folder for what they record. Imported by bench/outage.py and
bench/uwsgi_stops.py (run as scripts, bench/ is on their path)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.backends.embedded.cloud import Cloud


def harness(state_dir: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "harness", "--state-dir", str(state_dir), *args]
    subprocess.run(cmd, check=True)


def run_dir(name: str) -> Path:
    """reports/bench-<name>-<stamp>, made."""
    path = Path("reports") / f"bench-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path.mkdir(parents=True)
    return path


@contextmanager
def base_cloud(scenario: Path, state_dir: Path | None, prefix: str) -> Iterator[Cloud]:
    """The cloud up in `state_dir`, or the scenario's brought up in a temporary dir under
    /var/lib and removed, dir and all, when the block ends (an interrupt too)."""
    if state_dir is not None:
        yield Cloud.load(state_dir)
        return
    temporary = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir="/var/lib"))
    try:
        harness(temporary, "up", str(scenario))
        yield Cloud.load(temporary)
    finally:
        harness(temporary, "down")
        shutil.rmtree(temporary, ignore_errors=True)
