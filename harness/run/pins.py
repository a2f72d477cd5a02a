"""pins.json in the run folder: for each rolled service that caps its RPC automatically,
its peer, the log line of a choice, the target series and each side's facts (the rpc_pins
oracle judges the choices the logs show against them); for each whose servers push
versioned objects to agents that run ("<service> pushes"), the exchanges, the consuming
agents and the nodes' addresses (it judges the pushes the bus shows)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.checks import record
from harness.progress import log
from harness.services import ORDER


def write(target, run_dir: Path) -> None:
    out = {}
    for svc in ORDER:
        if svc.pushes is not None and _runs_any(target.scenario, svc, svc.pushes.consumers):
            out[f"{svc.project} pushes"] = {
                "exchange": svc.pushes.exchange, "consumers": list(svc.pushes.consumers),
                "nodes": {n.address: n.name for n in target.scenario.nodes},
            }  # fmt: skip
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


def _runs_any(scenario, svc, processes) -> bool:
    return any(p in svc.daemons(node) for node in scenario.nodes for p in processes)
