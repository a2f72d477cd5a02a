"""What a release says about a service's automatic RPC cap (its `Pins.facts`, run in the
release's venv), for the rpc_pins oracle: its own service version and the peer RPC version
each service version means."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from harness.progress import log
from harness.services import BY_NAME


def command(python: str, project: str) -> list[str]:
    return [python, "-c", BY_NAME[project].pins.facts]


def parse(out: str, where: str) -> dict | None:
    """The facts a run printed (its last line: imports may print before it), or None."""
    lines = out.strip().splitlines()
    try:
        facts = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        facts = None
    if not isinstance(facts, dict) or not ({"service_version", "accepts"} & set(facts)):
        log.warning("the RPC pin facts in %s were unreadable: %r", where, out.strip()[-200:])
        return None
    return facts


def read(python: Path, project: str) -> dict | None:
    """The facts of the venv whose interpreter is `python` (None: unreadable, warned)."""
    try:
        done = subprocess.run(command(str(python), project), capture_output=True, text=True,
                              timeout=120)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("reading the RPC pin facts with %s failed: %s", python, e)
        return None
    return parse(done.stdout, str(python))


def remote_command(venv_dir: str, project: str) -> str:
    """The same, as a shell command for a node (the devstack backend)."""
    return shlex.join(command(f"{venv_dir}/bin/python", project))
