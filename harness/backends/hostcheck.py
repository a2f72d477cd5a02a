"""Host checks: after the roll, ask every node (through its testinfra host) whether it
ended where the plan says it should.

- every service process the cloud record lists for the node runs the target release (its
  command line, else its executable, else the code it has mapped, names a release venv);
- every option the plan sets has its final planned value in the node's config file;
- every API listens on the node's address (and, on the controller, HAProxy on the VIP);
- on the controller, HAProxy's admin socket reports every API backend UP.

`check_hosts` returns what the run saves as hosts.json; its shape is documented with the
oracle that judges it (harness/checks/oracles/hosts.py). A probe that errors is a failed check
whose `actual` says why: a host check never crashes the run.
"""

from __future__ import annotations

import configparser
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from testinfra.host import Host

from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy
from harness.backends.embedded.lifecycle import INFRA, release_in
from harness.backends.hosts import host_for, host_url
from harness.plan.expect import Options, expected_options
from harness.plan.planner import Plan
from harness.scenario import Node
from harness.services import BY_NAME, ORDER

UP = "UP"
LISTENING, NOT_LISTENING = "listening", "not listening"
UNSET = "unset"


@dataclass(frozen=True)
class Check:
    node: str
    check: str  # "<kind> <subject>"; kind: release | config | listening | backend
    expected: str
    actual: str
    ok: bool


def check_hosts(
    cloud: Cloud, plan: Plan, target: str | None = None, transport: str = "netns"
) -> dict:
    """Run every host check on every node (the nodes in parallel); `target` defaults to
    the plan's target release; `transport` is how the nodes are reached (hosts.TRANSPORTS)."""
    target = target or plan.scenario.release_to
    options = expected_options(plan)
    nodes = cloud.scenario.nodes
    started = time.time()
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        per_node = list(pool.map(lambda n: check_node(cloud, n, target, options, transport), nodes))
    return {
        "target": target,
        "started": round(started, 3),
        "duration": round(time.time() - started, 3),
        "hosts": {n.name: host_url(cloud, n, transport) for n in nodes},
        "checks": [asdict(c) for checks in per_node for c in checks],
    }


def check_node(
    cloud: Cloud, node: Node, target: str, options: Options, transport: str = "netns"
) -> list[Check]:
    host = host_for(cloud, node, transport)
    checks = releases(cloud, host, node, target)
    checks += config(cloud, host, node, options)
    checks += listening(cloud, host, node)
    if node in cloud.scenario.balancers:
        checks += backends(cloud, host, node)
    return checks


def probe(node: Node, check: str, expected: str, answer, *args) -> Check:
    """One check: `answer(*args)` gives its actual value (the devstack target's checks
    use it too)."""
    try:
        actual = answer(*args)
    except Exception as e:  # the node could not answer: a failed check, not a crash
        actual = f"error: {type(e).__name__}: {e}"
    return Check(node.name, check, expected, actual, actual == expected)


# -- releases --------------------------------------------------------------------------------


def expected_processes(cloud: Cloud, node: Node) -> list[str]:
    """Every service process the node should run: its services' and any other non-infra
    process the cloud record lists for it."""
    names = [name for svc in ORDER if svc.runs_on(node) for name in svc.processes(node)]
    recorded = [p.name for p in cloud.processes(node.name) if p.name not in INFRA]
    return names + sorted(set(recorded) - set(names))


def releases(cloud: Cloud, host: Host, node: Node, target: str) -> list[Check]:
    venvs = {path: series for series, path in cloud.record["venvs"].items()}
    try:
        table = {p["pid"]: p["args"] for p in host.process.filter()}  # one ps for the node
    except Exception as e:
        table = e
    checks = []
    for name in expected_processes(cloud, node):
        procs = cloud.processes(node.name, name)
        if not procs:
            checks.append(Check(node.name, f"release {name}", target, "not in the record", False))
        for proc in procs:
            checks.append(
                probe(node, f"release {name}", target, release_on, host, proc.pid, table, venvs)
            )
    return checks


def release_on(host: Host, pid: int, table: dict[int, str] | Exception, venvs: dict) -> str:
    """The release process `pid` runs, asked of the host: its command line (from `table`,
    pid → ps args), its executable, else the code it has mapped."""
    if isinstance(table, Exception):
        raise table
    if pid not in table:
        return f"not running (pid {pid})"
    args = table[pid]
    release = release_in(args, venvs) or release_in(
        host.file(f"/proc/{pid}/exe").linked_to + "/", venvs
    )
    release = release or release_in(host.file(f"/proc/{pid}/maps").content_string, venvs)
    return release or f"no release venv (pid {pid}: {args[:160]})"


# -- config -----------------------------------------------------------------------------------


def config(cloud: Cloud, host: Host, node: Node, options: Options) -> list[Check]:
    files: dict[str, configparser.RawConfigParser] = {}

    def read(service: str, section: str, key: str) -> str:
        conf = BY_NAME[service].conf(cloud, node)
        if conf is None:
            raise LookupError(f"no config file is known for {service}")
        path = str(conf)
        if path not in files:
            parser = configparser.RawConfigParser(interpolation=None)
            parser.optionxform = str  # option names as written
            parser.read_string(host.file(path).content_string, source=path)
            files[path] = parser
        parser = files[path]
        return parser.get(section, key) if parser.has_option(section, key) else UNSET

    return [
        probe(node, f"config {svc} [{section}] {key}", value, read, svc, section, key)
        for (name, svc, section, key), value in sorted(options.items())
        if name == node.name
    ]


# -- sockets and backends -----------------------------------------------------------------------


def listening(cloud: Cloud, host: Host, node: Node) -> list[Check]:
    def state(address: str, port: int) -> str:
        return LISTENING if host.socket(f"tcp://{address}:{port}").is_listening else NOT_LISTENING

    sockets = []  # (what listens, address, port)
    for api in (svc.api for svc in ORDER if svc.api):
        if node.serves(api.name):
            sockets.append((api.name, node.address, api.port))
        if node in cloud.scenario.balancers:  # on the VIP, held or not (ip_nonlocal_bind)
            sockets.append((f"haproxy {api.name}", cloud.vip, api.port))
    return [
        probe(node, f"listening {what} {address}:{port}", LISTENING, state, address, port)
        for what, address, port in sockets
    ]


def show_stat(host: Host, socket_path: str) -> list[dict[str, str]]:
    """HAProxy's `show stat`, asked on the host through its admin socket."""
    out = host.run("echo 'show stat' | timeout 10 socat -t 5 stdio UNIX-CONNECT:%s", socket_path)
    if out.rc != 0 or not out.stdout.strip():
        raise RuntimeError(f"show stat exited {out.rc}: {out.stderr.strip()[:200]}")
    return haproxy.parse_stats(out.stdout)


def backends(cloud: Cloud, host: Host, node: Node) -> list[Check]:
    try:
        rows = show_stat(host, str(haproxy.admin_socket(cloud, node.name)))
        status = {(r["pxname"], r["svname"]): r["status"] for r in rows}
    except Exception as e:
        status = e

    def state(frontend: str, server: str) -> str:
        if isinstance(status, Exception):
            raise status
        return status.get((frontend, server), "absent")

    servers = [
        (svc.api.name, n.name)
        for svc in ORDER
        if svc.api
        for n in cloud.scenario.serving(svc.api.name)
    ]
    return [probe(node, f"backend {fe}/{srv}", UP, state, fe, srv) for fe, srv in servers]
