"""Console progress: one line per phase and step, with the time since the command began."""

from __future__ import annotations

import logging
import sys
import time

_START = time.monotonic()


class _Elapsed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"[{time.monotonic() - _START:7.1f}s] {record.getMessage()}"


def setup(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Elapsed())
    root = logging.getLogger("harness")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


log = logging.getLogger("harness")
