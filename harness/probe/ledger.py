"""What the probe worker writes (probes/probes.jsonl in the run folder), one JSON object a
line: {"started", "backends", intervals…} first; a failure {"t", "api", "node", "probe":
connect | http, "failure", "ms"}; a tick {"tick", "counts": {"api@node": {"connect",
"http"}}, "late_s"} every few seconds; {"stopped"} last."""

from __future__ import annotations

import json
from pathlib import Path

LEDGER = "probes/probes.jsonl"  # in the run folder
# The VIP itself, probed like a backend: its records name it haproxy@vip
VIP_API, VIP_NODE = "haproxy", "vip"


def read(path: Path) -> list[dict]:
    """The worker's records, in order (a line cut short by a kill is dropped)."""
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
