"""Bringing the embedded cloud up and down, and reporting its status.

`up` records everything it creates in the cloud record before or as it creates it; any
failure, Ctrl-C or SIGTERM during `up` runs the same teardown as `down`, so nothing
half-started is left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from harness import process, wait
from harness import scenario as scenario_mod
from harness.backends.embedded import netns
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy, keepalived, mariadb, ovs, rabbitmq
from harness.backends.embedded.prereqs import require
from harness.errors import StepFailed, UserError
from harness.progress import log
from harness.releases import venv
from harness.releases.sides import Side
from harness.scenario import Node
from harness.services import ORDER, Service
from harness.services.base import uwsgi_ini, wait_api
from harness.services.keystone.service import register

# Not OpenStack services: stopped last, in this order. sshd is the nodes' SSH transport
# (harness/backends/embedded/ssh.py), when it runs.
# Stopped in this order at teardown: keepalived first, so the VIP does not move to a node
# whose HAProxy is going too.
INFRA = ("sshd", "keepalived", "haproxy", ovs.SWITCH, ovs.DB, "rabbitmq", "epmd", "mariadb")
# Tearing down needs no grace: nothing of the cloud is kept. (Graceful stops during the
# roll use the scenario's stop_timeout.)
TEARDOWN_TIMEOUT = 10.0


def build_venvs(sides: list[Side], cache_dir: Path) -> dict[str, str]:
    paths = {}
    for side in sides:
        started = time.monotonic()
        path, built = venv.ensure(side, cache_dir)
        verb = "built" if built else "cached"
        log.info("venv %s %s in %.1f s: %s", side.name, verb, time.monotonic() - started, path)
        paths[side.name] = str(path)
    return paths


def up(scenario_path: Path, state_dir: Path, cache_dir: Path, venvs: dict | None = None,
       overrides: scenario_mod.Overrides | None = None) -> Cloud:  # fmt: skip
    """Bring the scenario's cloud up at its base release. `venvs` (series → path) may come
    from a caller that built them already; `overrides`: the command line's sources."""
    data, scenario = scenario_mod.read(scenario_path, overrides)
    Cloud.refuse_if_up(state_dir)
    require(install=True)
    _check_free(scenario)
    venvs = venvs or build_venvs([scenario.side_from], cache_dir)
    cloud = Cloud.create(scenario, data, state_dir)
    cloud.record["venvs"] = venvs
    cloud.save()
    with process.signals_as_interrupt():
        try:
            _bring_up(cloud)
        except BaseException:
            log.error("up failed; tearing down what was started")
            with process.signals_ignored():
                teardown(cloud)
            raise
    cloud.record["status"] = "up"
    cloud.save()
    return cloud


def _check_free(scenario) -> None:
    """Refuse to touch namespaces or a bridge we did not create."""
    taken = {
        netns.netns_name(scenario.network, n) for n in scenario.nodes
    } & netns.existing_namespaces()
    if taken:
        raise UserError(f"Network namespace {sorted(taken)[0]} already exists; remove it first.")
    if netns.link_exists(scenario.network.bridge):
        raise UserError(f"Network interface {scenario.network.bridge} already exists.")


def _bring_up(cloud: Cloud) -> None:
    s = cloud.scenario
    t0 = time.monotonic()
    log.info("network: bridge %s, %d nodes, VIP %s", s.network.bridge, len(s.nodes), s.network.vip)
    cloud.record["bridge"] = s.network.bridge
    cloud.save()
    netns.create_bridge(s.network)
    for i, node in enumerate(s.nodes):
        cloud.record["namespaces"].append(cloud.netns(node))
        cloud.save()
        netns.create_node(s, i, node)
    log.info("infra: MariaDB, RabbitMQ on %s", s.controller.name)
    mariadb.start(cloud)
    for svc in ORDER:
        for db in svc.databases:
            mariadb.create_database(cloud, db, svc.project)
    rabbitmq.start(cloud)
    switches = [n for n in s.nodes if n.has("network")]
    if switches:
        log.info("infra: Open vSwitch (userspace datapath) on %s",
                 ", ".join(n.name for n in switches))  # fmt: skip
    for node in switches:
        ovs.start(cloud, node)
    _start_balancers(cloud)
    for svc in ORDER:
        _start_service(cloud, svc)
        if svc.project == "keystone":
            svc.bootstrap(cloud)
            register(cloud, ORDER)
    log.info("cloud up in %.1f s", time.monotonic() - t0)


def _start_balancers(cloud: Cloud) -> None:
    s = cloud.scenario
    frontends = [svc.api for svc in ORDER if svc.api]
    for node in s.balancers:
        haproxy.start(cloud, node, frontends)
    if s.vrrp:
        for node in s.balancers:
            keepalived.start(cloud, node)
        holder = keepalived.wait_elected(cloud)
        log.info("keepalived: VIP %s on %s (VRRP among %s)", s.network.vip, holder,
                 ", ".join(n.name for n in s.balancers))  # fmt: skip


def _start_service(cloud: Cloud, svc: Service) -> None:
    base = cloud.scenario.release_from
    nodes = [n for n in cloud.scenario.nodes if svc.runs_on(n)]
    started = time.monotonic()
    for node in nodes:
        svc.install(cloud, node, base)
        svc.configure(cloud, node)
    log.info("%s: DB sync (%s)", svc.project, base)
    svc.sync(cloud, base)
    api_nodes = [n for n in nodes if svc.api and n.serves(svc.api.name)]
    for node in api_nodes:
        start_api(cloud, svc, node, base)
    for node in api_nodes:
        wait_api(cloud, node, svc.api)
    for node in nodes:
        for name in svc.daemons(node):
            start_daemon(cloud, svc, node, name, base)
            svc.wait_consuming(cloud.broker(), node.name, name,
                               cloud.scenario.services.startup_timeout)  # fmt: skip
    svc.after_start(cloud)
    log.info("%s: up on %s in %.1f s", svc.project, ", ".join(n.name for n in nodes),
             time.monotonic() - started)  # fmt: skip


@dataclass(frozen=True)
class Launch:
    """What starting one process runs: its command line, its environment, its log file."""

    argv: list[str]
    env: dict[str, str]
    log: Path


def launch(cloud: Cloud, svc: Service, node: Node, name: str, series: str) -> Launch:
    """How process `name` of `svc` starts on `node` on `series`: the same whether the
    harness spawns it in the node's namespace or a node starts it (over SSH, say)."""
    if svc.api and name == svc.api.name:
        env = cloud.service_env(series, svc.api_env(cloud, node))
        ini = uwsgi_ini(cloud, node, svc.api, series, svc.uwsgi_options(cloud, node, series))
        argv = [str(cloud.venv(series) / "bin" / "uwsgi"), "--ini", str(ini)]
    else:
        argv = svc.daemon_argv(cloud, node, name)
        env = cloud.service_env(series, svc.daemon_env(cloud, node, name))
    return Launch(argv, env, cloud.log_path(node, name))


def started(cloud: Cloud, proc: process.Proc) -> process.Proc:
    """Record a process that was just started, so `down` finds and stops it."""
    cloud.add_process(proc)
    if proc.release:
        cloud.set_release(proc.node, proc.name, proc.release)
    return proc


def start_process(cloud: Cloud, svc: Service, node: Node, name: str, series: str) -> process.Proc:
    run = launch(cloud, svc, node, name, series)
    proc = process.spawn(name, node.name, cloud.netns(node), run.argv, run.env, run.log, series,
                         shared_mounts=name in svc.shared_mounts)  # fmt: skip
    return started(cloud, proc)


def start_api(cloud: Cloud, svc: Service, node: Node, series: str) -> process.Proc:
    return start_process(cloud, svc, node, svc.api.name, series)


def start_daemon(cloud: Cloud, svc: Service, node: Node, name: str, series: str) -> process.Proc:
    return start_process(cloud, svc, node, name, series)


# -- down ---------------------------------------------------------------------------------


def down(state_dir: Path) -> bool:
    cloud = Cloud.load(state_dir)
    if cloud is None:
        log.info("no cloud is up (no record in %s)", state_dir)
        return False
    with process.signals_ignored():
        teardown(cloud)
    return True


def teardown(cloud: Cloud) -> None:
    """Stop every process we started (services in parallel, then infra in order), kill
    anything left in our namespaces, delete them and the bridge, forget the cloud."""
    timeout = min(TEARDOWN_TIMEOUT, cloud.scenario.services.stop_timeout)
    procs = cloud.processes()
    services = [p for p in procs if p.name not in INFRA]
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        stops = list(pool.map(lambda p: process.stop(p, timeout), services))
    for name in INFRA:
        stops += [process.stop(p, timeout, whole_group=True) for p in procs if p.name == name]
    for stop in stops:
        if stop.forced:
            log.warning(
                "%s on %s ignored SIGTERM for %.1f s: killed", stop.name, stop.node, stop.waited
            )
    existing = netns.existing_namespaces()
    made = [ns for svc in ORDER for node in cloud.scenario.nodes
            for ns in svc.namespaces_made(cloud, node) if ns in existing]  # fmt: skip
    for ns in [*made, *cloud.record["namespaces"]]:  # dnsmasq runs in the agents' own
        _kill_leftovers(ns)
        netns.delete_namespace(ns)
    for i in range(len(cloud.record["namespaces"])):
        # The kernel frees a deleted namespace (and the veth's end in it) when it gets to
        # it, seconds later after a run with many connections (seen: the next `up` found
        # uh-e2e-v0 still there); deleting our end now ends the pair at once.
        netns.delete_link(netns.veth_name(cloud.scenario.network, i))
    if cloud.record["bridge"]:
        netns.delete_link(cloud.record["bridge"])
    cloud.forget()
    # ssh: the SSH transport's keys; tempest: its config (a password), if an interrupt came
    # between writing it and the run holding it
    for sub in ("nodes", "shared", "logs", "ssh", "home", "tempest"):
        shutil.rmtree(cloud.state_dir / sub, ignore_errors=True)
    log.info("down: %d processes stopped, %d namespaces and the bridge removed",
             len(stops), len(cloud.record["namespaces"]))  # fmt: skip


def _kill_leftovers(ns: str) -> None:
    # Everything in a namespace the harness created was started by the harness
    # (a daemon's own children, say); kill them by pid.
    for pid in netns.pids_in(ns):
        try:
            os.kill(pid, signal.SIGKILL)
            log.warning("killed leftover pid %d in %s", pid, ns)
        except ProcessLookupError:
            pass
    with contextlib.suppress(StepFailed):  # best effort: the namespace goes next anyway
        wait.until(lambda: not netns.pids_in(ns), 5, f"{ns} empty", interval=0.1)


# -- status ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStatus:
    node: str
    name: str
    release: str
    pid: int
    alive: bool


def status(state_dir: Path) -> tuple[Cloud | None, list[ProcStatus], dict]:
    cloud = Cloud.load(state_dir)
    if cloud is None:
        return None, [], {}
    venvs = venvs_by_path(cloud)
    rows = [proc_status(p, venvs) for p in cloud.processes()]
    try:
        backends = haproxy.server_status(cloud)
    except OSError:
        backends = {}
    return cloud, rows, backends


def venvs_by_path(cloud: Cloud) -> dict[str, str]:
    return {path: series for series, path in cloud.record["venvs"].items()}


# Reads a file under /proc (for /proc/<pid>/exe: where the link points); OSError if it
# cannot. Status asks the local /proc, or a node's through its testinfra host.
ProcReader = Callable[[str], str]


def read_proc(path: str) -> str:
    if path.endswith("/exe"):
        return os.readlink(path)
    return Path(path).read_bytes().decode(errors="replace")


def proc_status(p: process.Proc, venvs: dict[str, str], read: ProcReader = read_proc) -> ProcStatus:
    """One process the record lists: its release (asked of the process itself, else the
    one it was started on) and whether it is alive (its pid with its start time)."""
    try:
        fields = process.parse_stat(read(f"/proc/{p.pid}/stat"))
    except (OSError, ValueError):
        fields = None
    release = running_release(p.pid, venvs, read) if fields else None
    return ProcStatus(p.node, p.name, release or p.release or "-", p.pid,
                      process.is_alive(fields, p.start_ticks))  # fmt: skip


def running_release(pid: int, venvs: dict[str, str], read: ProcReader = read_proc) -> str | None:
    """Ask the process itself which release it runs: the venv its executable, its command
    line (cotyledon rewrites it to "nova-conductor: master process [<venv>/bin/…]") or,
    failing both, the code it has mapped into memory comes from."""
    try:
        exe = read(f"/proc/{pid}/exe")
        cmdline = read(f"/proc/{pid}/cmdline").replace("\0", " ")
    except OSError:
        return None
    for probe in (exe + "/", cmdline):
        if release := release_in(probe, venvs):
            return release
    try:
        return release_in(read(f"/proc/{pid}/maps"), venvs)
    except OSError:
        return None


def release_in(text: str, venvs: dict[str, str]) -> str | None:
    """The release whose venv (venv path → series) `text` names — a path, a command line,
    a memory map — if it names exactly one."""
    found = {series for path, series in venvs.items() if path + "/" in text}
    return found.pop() if len(found) == 1 else None
