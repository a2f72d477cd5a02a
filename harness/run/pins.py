"""pins.json in the run folder: for each rolled service that caps its RPC automatically,
its peer, the log line of a choice, the target series and each side's facts (the rpc_pins
oracle judges the choices the logs show against them)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.checks import record
from harness.progress import log
from harness.services import ORDER


def write(target, run_dir: Path) -> None:
    out = {}
    for svc in ORDER:
        if svc.pins is None:
            continue
        try:
            facts = target.pin_facts(svc.project)
        except Exception as e:  # no pins.json entry: the oracle says what it could not see
            log.warning("reading %s's RPC pin facts failed: %s", svc.project, e)
            continue
        if facts:
            out[svc.project] = {"peer": svc.pins.peer, "selected": svc.pins.selected,
                                "target": target.scenario.release_to, "facts": facts}  # fmt: skip
    if out:
        (run_dir / record.PINS).write_text(json.dumps(out, indent=1))
