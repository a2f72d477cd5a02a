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

import psutil

from harness import progress

OUTPUT_KEPT = 64 * 1024  # bytes of a command's output a step's log repeats


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


def netns_argv(netns: str | None, argv: list[str], shared_mounts: bool = False) -> list[str]:
    """`argv` run in network namespace `netns`. `ip netns exec` gives the command a mount
    namespace of its own (and a /sys of the namespace's devices); a process that makes
    namespaces itself (neutron's DHCP agent, its `qdhcp-`) needs the root one, or what it
    bind-mounts in /run/netns is seen by nobody else: `nsenter --net` switches the network
    namespace alone (docs/neutron-agents-research.md, section 3)."""
    if not netns:
        return list(argv)
    if shared_mounts:
        return ["nsenter", f"--net=/run/netns/{netns}", "--", *argv]
    return ["ip", "netns", "exec", netns, *argv]


def spawn(
    name: str,
    node: str,
    netns: str | None,
    argv: list[str],
    env: dict[str, str],
    log: Path,
    release: str | None = None,
    cwd: Path | None = None,
    shared_mounts: bool = False,
) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # `ip netns exec` execs the command, so the pid we get is the service's own.
        child = subprocess.Popen(
            netns_argv(netns, argv, shared_mounts),
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


def _start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` in clock ticks since boot: the process's identity,
    exact (psutil's create_time adds the boot time, which moves with the clock), and what
    a node's own /proc gives over SSH too (harness/backends/embedded/remote.py)."""
    try:
        return int(parse_stat(Path(f"/proc/{pid}/stat").read_text())[19])
    except (OSError, IndexError, ValueError):
        return None


def is_alive(fields: list[str] | None, start_ticks: int) -> bool:
    """Whether stat `fields` (None: no such pid) — a node's /proc read through its host —
    are those of a live process started at `start_ticks`: a reused pid is not ours."""
    if not fields or fields[0] == "Z":
        return False
    return int(fields[19]) == start_ticks


def _ours(proc: Proc) -> psutil.Process | None:
    """The live process `proc` recorded, or None: gone, a zombie, or its pid reused."""
    try:
        p = psutil.Process(proc.pid)
        if p.status() == psutil.STATUS_ZOMBIE or _start_ticks(proc.pid) != proc.start_ticks:
            return None
        return p
    except psutil.Error:
        return None


def alive(proc: Proc) -> bool:
    return _ours(proc) is not None


def _group(pgid: int) -> list[psutil.Process]:
    """Every live process of the process group `pgid` (a service and what it forked)."""
    members = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                members.append(p)
    return members


def group_members(pgid: int) -> list[int]:
    return [p.pid for p in _group(pgid)]


def stop(proc: Proc, timeout: float, whole_group: bool = False) -> StopRecord:
    """SIGTERM the process (its whole process group if `whole_group`), wait up to `timeout`
    for all of the group to be gone, then SIGKILL what is left (at once, with no SIGTERM,
    when `timeout` is 0).

    A service gets SIGTERM alone, as devstack's units give it (systemd's KillMode=process):
    its own shutdown ends what it forked — uwsgi's master asks each worker to finish with
    SIGHUP, oslo.service's launcher signals its children. A SIGTERM to a uwsgi worker as
    well raced the master's SIGHUP: both landed on one of the app's threads, whose exit
    from the signal handler hung in Python's finalization while the worker's main thread
    went on serving, until the bound's SIGKILL. bench/uwsgi_stops.py: 5 of 24 restarts of
    nova-api and neutron-api forced with the group signalled, 0 of 24 with the master."""
    started = time.monotonic()
    if _ours(proc) is None:
        return StopRecord(proc.name, proc.node, proc.pid, 0.0, False)
    if timeout <= 0:  # a crash, for a fault: no SIGTERM whose handler could begin a shutdown
        pass  # the loop below finds the deadline passed and SIGKILLs the group at once
    elif whole_group:
        signal_group(proc.pid, signal.SIGTERM)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    deadline = started + timeout
    # psutil's wait reaps our own children; one forked during the stop joins the next round.
    while members := _group(proc.pid):
        left = deadline - time.monotonic()
        if left <= 0:
            signal_group(proc.pid, signal.SIGKILL)
            psutil.wait_procs(_group(proc.pid), timeout=5)
            return StopRecord(proc.name, proc.node, proc.pid, time.monotonic() - started, True)
        psutil.wait_procs(members, timeout=min(left, 1.0))
    return StopRecord(proc.name, proc.node, proc.pid, time.monotonic() - started, False)


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
    shared_mounts: bool = False,
) -> subprocess.CompletedProcess:
    """Run a one-shot command (a DB sync, say) in a namespace, output appended to `log`
    (and, at debug level, to the harness's log: the step's log, when a step runs it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        start = out.tell()
        done = subprocess.run(
            netns_argv(netns, argv, shared_mounts),
            input=stdin.encode() if stdin is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=timeout,
            check=False,
        )
    progress.log.debug("$ %s (in %s) exited %d", " ".join(argv), netns or "the root namespace",
                       done.returncode)  # fmt: skip
    with open(log, "rb") as out:
        out.seek(start)
        output = out.read(OUTPUT_KEPT).decode(errors="replace").rstrip()
    if output:
        progress.log.debug("%s", output)
    return done


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


def stop_helper(proc: subprocess.Popen, stop_file: Path, timeout: float, *files: Path) -> int:
    """Ask a helper to stop (its stop file), wait `timeout`, then kill it; remove the stop
    file and `files` (its config) either way. Its exit status."""
    stop_file.touch()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
    finally:
        for path in (*files, stop_file):
            path.unlink(missing_ok=True)


# -- signals: the harness's own, so a Ctrl-C or SIGTERM still cleans up ---------------


class signals_as_interrupt:
    """SIGTERM (a CI job cancelled, say) behaves like Ctrl-C: the same teardown runs."""

    def __enter__(self):
        self._old = signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self._old)


class signals_ignored:
    """Teardown is not interrupted by a second Ctrl-C: it would leave things half-removed."""

    def __enter__(self):
        self._old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}

    def __exit__(self, *exc):
        for s, handler in self._old.items():
            signal.signal(s, handler)
