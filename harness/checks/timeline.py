"""What was happening when: the plan step in progress and each process's release at any
moment, rebuilt from the runner's events file."""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Timeline:
    steps: list[tuple[float, float, str]]  # (start, end, "6.10 nova-api on controller: …")
    releases: list[tuple[float, dict]]  # (time, {node: {process: release}}), time-ordered

    @classmethod
    def from_events(cls, events: list[dict]) -> Timeline:
        starts = {}
        steps, releases = [], []
        for e in events:
            if e["event"] == "step-start":
                starts[e["id"]] = (e["t"], f"{e['id']} {e['description']}")
            elif e["event"] == "step-end" and e["id"] in starts:
                t0, text = starts.pop(e["id"])
                steps.append((t0, e["t"], text))
            elif e["event"] == "releases":
                releases.append((e["t"], e["releases"]))
        return cls(steps, releases)

    def step_at(self, t: float) -> str | None:
        for start, end, text in self.steps:
            if start <= t <= end:
                return text
        return None

    def steps_between(self, t0: float, t1: float) -> list[str]:
        """The steps running at some moment of [t0, t1], in order."""
        return [text for start, end, text in self.steps if start <= t1 and end >= t0]

    def release_at(self, node: str | None, process: str, t: float) -> str | None:
        if node is None:
            return None
        return (self.releases_at(t) or {}).get(node, {}).get(process)

    def releases_at(self, t: float) -> dict[str, dict[str, str]] | None:
        """node → process → release as recorded last at or before `t`; None before any."""
        i = bisect.bisect_right([r[0] for r in self.releases], t) - 1
        return self.releases[i][1] if i >= 0 else None
