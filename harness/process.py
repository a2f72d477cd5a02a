"""Processes the harness starts and supervises.

Each process is started in its own session (so its pid is also its process group id),
inside a node's network namespace, with its output in one log file. It is remembered by
pid *and* the kernel's start time of that pid, so the harness never signals a process it
did not start, even after pid reuse. Stopping is SIGTERM to the group, a bounded wait,
then SIGKILL; how long it waited and whether it had to kill is recorded, because a
service that ignores SIGTERM is a finding, not a harness crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    name: str  # e.g. "nova-api"
    node: str
    pid: int
    start_ticks: int
    log: str
    release: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StopRecord:
    name: str
    node: str
    pid: int
    waited: float  # seconds between SIGTERM and the group being gone (or SIGKILL)
    forced: bool  # SIGKILL was needed


def netns_argv(netns: str | None, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


def spawn(
    name: str,
    node: str,
    netns: str | None,
    argv: list[str],
    env: dict[str, str],
    log: Path,
    release: str | None = None,
    cwd: Path | None = None,
) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # `ip netns exec` execs the command, so the pid we get is the service's own.
        child = subprocess.Popen(
            netns_argv(netns, argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    return Proc(name, node, child.pid, _start_ticks(child.pid) or 0, str(log), release)


def parse_stat(raw: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: [0] is the state, [2] the
    process group, [19] the start time in clock ticks."""
    # The command name (field 2) may hold spaces; fields after the closing paren are fixed.
    return raw[raw.rindex(")") + 2 :].split()


def _stat(pid: int) -> list[str] | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_alive(fields: list[str] | None, start_ticks: int) -> bool:
    """Whether stat `fields` (None: no such pid) are those of a live process started at
    `start_ticks`: the same pid reused by another process is not ours."""
    if not fields or fields[0] == "Z":
        return False
    return int(fields[19]) == start_ticks


def alive(proc: Proc) -> bool:
    return is_alive(_stat(proc.pid), proc.start_ticks)


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def _reap(pid: int) -> None:
    # Children of this very process must be reaped or they linger as zombies.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(proc: Proc, timeout: float) -> StopRecord:
    """SIGTERM the process group, wait up to `timeout`, then SIGKILL what is left."""
    started = time.monotonic()
    if not alive(proc):
        return StopRecord(proc.name, proc.node, proc.pid, 0.0, False)
    signal_group(proc.pid, signal.SIGTERM)
    deadline = started + timeout
    while time.monotonic() < deadline:
        _reap(proc.pid)
        if not alive(proc) and not group_members(proc.pid):
            return StopRecord(proc.name, proc.node, proc.pid, time.monotonic() - started, False)
        time.sleep(0.1)
    signal_group(proc.pid, signal.SIGKILL)
    for _ in range(50):
        _reap(proc.pid)
        if not group_members(proc.pid):
            break
        time.sleep(0.1)
    return StopRecord(proc.name, proc.node, proc.pid, time.monotonic() - started, True)


def signal_group(pgid: int, sig: int) -> None:
    """Signal a process we started and everything it forked (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def signal_proc(proc: Proc, sig: int) -> bool:
    """Send `sig` to a process we started (SIGHUP to reload, say); False if it is gone."""
    if not alive(proc):
        return False
    os.kill(proc.pid, sig)
    return True


def run(
    argv: list[str],
    netns: str | None,
    env: dict[str, str],
    log: Path,
    timeout: float,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    """Run a one-shot command (a DB sync, say) in a namespace, output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        return subprocess.run(
            netns_argv(netns, argv),
            input=stdin.encode() if stdin is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=timeout,
            check=False,
        )


def start_helper(module: str, settings: dict, config: Path, log: Path) -> subprocess.Popen:
    """A harness helper process (`python -m <module> <config>`, the load worker or the bus
    tracer) in the root namespace: its settings in a 0600 file (they hold a password), its
    output appended to `log`."""
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(settings, f)
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", module, str(config)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
