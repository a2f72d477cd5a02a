"""Collecting a run's logs into its report folder, with every secret of the run redacted."""

from __future__ import annotations

from pathlib import Path

from harness.backends.embedded.cloud import Cloud
from harness.secrets import redact


def collect_logs(cloud: Cloud, dest: Path) -> int:
    """Copy every log of every node to dest/<node>/<name>.log, redacted; returns the count."""
    source = cloud.state_dir / "logs"
    secrets = cloud.secrets.values()
    count = 0
    for path in sorted(source.rglob("*.log")):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(redact(path.read_text(errors="replace"), secrets))
        count += 1
    return count
