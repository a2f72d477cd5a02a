"""Console progress: one line per phase and step, with the time since the command began."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

_START = time.monotonic()


class _Elapsed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"[{time.monotonic() - _START:7.1f}s] {record.getMessage()}"


def setup(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Elapsed())
    # The handler holds the console's level: a step's log raises the logger's to debug.
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger("harness")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


log = logging.getLogger("harness")


class Transcript(logging.Handler):
    """The console's lines, for a run folder's console.log: held in memory until the folder
    exists (the cloud comes up before it has one), then written as they come, each line
    redacted as it is written."""

    def __init__(self, level: int):
        super().__init__(level)
        self.setFormatter(_Elapsed())
        self.held: list[str] = []
        self.file = None
        self.redact = str

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        if self.file is None:
            self.held.append(line)
        else:
            self.write(line)

    def write(self, text: str) -> None:
        self.file.write(self.redact(text) + "\n")
        self.file.flush()

    def attach(self, path: Path, redact) -> None:
        self.redact = redact
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        for line in self.held:
            self.write(line)
        self.held = []

    def close(self) -> None:
        log.removeHandler(self)
        if self.file is not None:
            self.file.close()
        super().close()


def transcript() -> Transcript:
    """Start keeping the console's lines (at the console's level) for a run folder."""
    console = next((h for h in log.handlers if not isinstance(h, Transcript)), None)
    handler = Transcript(console.level if console else logging.INFO)
    log.addHandler(handler)
    return handler
