"""The events file: one JSON object per line, each with a wall-clock time `t` (epoch
seconds). The runner writes step starts and ends and, after each step, the release every
process on every node reports; later the load and the oracles read the same file."""

from __future__ import annotations

import json
import time
from pathlib import Path

FAILOVER = "failover"  # a VIP failover step's measurement (harness/checks/failover.py)


class EventLog:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Open for the whole run, line-buffered, so the file is readable while it runs.
        self._file = open(path, "a", buffering=1)  # noqa: SIM115

    def write(self, event: str, **fields) -> dict:
        record = {"t": round(time.time(), 3), "event": event, **fields}
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        return record

    def close(self) -> None:
        self._file.close()


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
