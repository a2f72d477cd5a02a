"""The embedded cloud's service manager on the node itself, reached over SSH.

What `harness status` and a restart do locally (backends/embedded/lifecycle.py,
harness/process.py), done *on the node* through its testinfra host instead: status reads
the node's /proc; a stop is SIGTERM to the process group, a bounded wait, then SIGKILL, in
one shell script on the node; a start runs the very command line, environment and log file
the harness uses locally (lifecycle.launch), detached (setsid, stdin from /dev/null), and
records the new pid with its start time so `harness down` still finds and stops it.
Devstack's service manager will be systemctl (harness/backends/devstack/units.py); this
one is for the embedded nodes, so the SSH path is proven on real hosts.
"""

from __future__ import annotations

import datetime
import shlex

from testinfra.host import Host

from harness import process
from harness.backends.embedded import lifecycle, operations
from harness.backends.embedded.cloud import Cloud
from harness.errors import StepFailed
from harness.scenario import Node
from harness.services import BY_NAME

# $1 pid, $2 its start time (clock ticks), $3 the grace in ms, $4 whom SIGTERM goes to (the
# pid, or "-pid": its process group; process.stop says why). Prints "<how> <ms> <forced>".
# A pid whose start time differs is not ours: it is never signalled.
STOP = r"""
pid=$1 ticks=$2 grace=$3 term=$4
alive() {
  local s
  s=$(cat /proc/$pid/stat 2>/dev/null) || return 1
  set -- ${s##*) }
  [ "$1" != Z ] && [ "${20}" = "$ticks" ]
}
members() { ps -e -o pgid=,stat= | awk -v g="$pid" '$1 == g && $2 !~ /^Z/ {n++} END {exit !n}'; }
now() { echo $(( $(date +%s%N) / 1000000 )); }
start=$(now)
alive || { echo "gone 0 0"; exit 0; }
kill -TERM -- "$term" 2>/dev/null
while [ $(( $(now) - start )) -lt "$grace" ]; do
  if ! alive && ! members; then echo "stopped $(( $(now) - start )) 0"; exit 0; fi
  sleep 0.1
done
kill -KILL -- "-$pid" 2>/dev/null
for _ in $(seq 50); do members || break; sleep 0.1; done
echo "killed $(( $(now) - start )) 1"
"""

# $1 the log file, the rest the command. Prints "<pid> <its /proc/<pid>/stat>" once the
# process leads its own session (setsid), so its pid is its process group.
START = r"""
log=$1; shift
mkdir -p "$(dirname "$log")" && cd / || exit 1
setsid "$@" </dev/null >>"$log" 2>&1 &
pid=$! s=
for _ in $(seq 50); do
  s=$(cat /proc/$pid/stat 2>/dev/null) || { s=; break; }
  set -- ${s##*) }
  [ "$3" = "$pid" ] && break
  sleep 0.1
done
echo "$pid $s"
"""


def stop_command(proc: process.Proc, timeout: float, whole_group: bool = False) -> str:
    term = f"-{proc.pid}" if whole_group else str(proc.pid)
    args = [str(proc.pid), str(proc.start_ticks), str(int(timeout * 1000)), term]
    return shlex.join(["bash", "-c", STOP, "stop", *args])


def start_command(run: lifecycle.Launch) -> str:
    env = [f"{key}={value}" for key, value in sorted(run.env.items())]
    return shlex.join(["bash", "-c", START, "start", str(run.log), "env", "-i", *env, *run.argv])


# -- status -------------------------------------------------------------------------------------


def proc_reader(host: Host) -> lifecycle.ProcReader:
    """Read the node's /proc through its host; a file that is not there is an OSError (a
    failed SSH connection is not: testinfra raises it as RuntimeError)."""

    def read(path: str) -> str:
        out = host.run("readlink -- %s" if path.endswith("/exe") else "cat -- %s", path)
        if out.rc != 0:
            raise OSError(f"{path}: {out.stderr.strip()}")
        return out.stdout.strip() if path.endswith("/exe") else out.stdout

    return read


def remote_status(cloud: Cloud, node: Node | str, host: Host) -> list[lifecycle.ProcStatus]:
    """What `harness status` shows for the node's processes, asked of the node."""
    name = node if isinstance(node, str) else node.name
    venvs, read = lifecycle.venvs_by_path(cloud), proc_reader(host)
    return [lifecycle.proc_status(p, venvs, read) for p in cloud.processes(name)]


# -- stop, start, restart -------------------------------------------------------------------------


def stop(
    cloud: Cloud, host: Host, node: str, name: str, timeout: float | None = None
) -> process.StopRecord:
    """A graceful stop on the node, recorded as operations.stop records a local one."""
    proc = operations.find(cloud, node, name)
    operations.pause_checks(cloud, node, name)
    grace = cloud.scenario.services.stop_timeout if timeout is None else timeout
    out = host.run(stop_command(proc, grace, whole_group=name in lifecycle.INFRA))
    try:
        _, ms, forced = out.stdout.split()
        record = process.StopRecord(proc.name, node, proc.pid, int(ms) / 1000, forced == "1")
    except ValueError:
        raise StepFailed(
            f"stopping {name} on {node} over SSH: {out.stderr.strip()[:300]}"
        ) from None
    return operations.stopped(cloud, proc, record)


def start(
    cloud: Cloud, host: Host, service: str, node: str, name: str, series: str
) -> process.Proc:
    """Start process `name` on the node as the harness would, detached, and record it."""
    run = lifecycle.launch(cloud, BY_NAME[service], cloud.scenario.node(node), name, series)
    out = host.run(start_command(run))
    pid, _, stat = out.stdout.strip().partition(" ")
    if out.rc != 0 or not pid.isdigit():
        raise StepFailed(f"starting {name} on {node} over SSH: {out.stderr.strip()[:300]}")
    if not stat:
        raise StepFailed(f"{name} on {node} exited at once; see {run.log}")
    fields = process.parse_stat(stat)
    proc = process.Proc(name, node, int(pid), int(fields[19]), str(run.log), series)
    lifecycle.started(cloud, proc)
    if fields[2] != pid:
        raise StepFailed(f"{name} on {node} (pid {pid}) did not get its own session")
    return proc


def restart(
    cloud: Cloud, host: Host, service: str, node: str, name: str, series: str
) -> tuple[process.StopRecord, process.Proc]:
    """operations.restart, with the node stopping and starting the process."""
    record = stop(cloud, host, node, name)
    since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    proc = start(cloud, host, service, node, name, series)
    operations.wait_started(cloud, service, node, name, since)
    return record, proc
