"""The backends' registry: where a run can happen. Each target opens itself from the
command line's choices and refuses those that are not its own (harness/backends: Target)."""

from __future__ import annotations

from pathlib import Path

from harness.backends import Target
from harness.backends.devstack.target import DevstackTarget
from harness.backends.embedded.backend import EmbeddedTarget
from harness.scenario import Overrides

TARGETS = {t.name: t for t in (EmbeddedTarget, DevstackTarget)}
NAMES = tuple(TARGETS)


def open_target(name: str, scenario_path: Path, state_dir: Path, cache_dir: Path,
                nodes: Path | None, overrides: Overrides | None = None) -> Target:  # fmt: skip
    return TARGETS[name].open(scenario_path, state_dir, cache_dir, nodes, overrides)
