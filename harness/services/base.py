"""What every OpenStack service module provides, and the helpers they share.

A service module says what it installs (its PyPI project in the release venv), its config
per node, its DB sync at the base release, its processes per node and, for API services,
how HAProxy and the keystone catalog reach it. The lifecycle
(harness.backends.embedded.lifecycle) walks the services in order and never needs to know
one from another.
"""

from __future__ import annotations

import configparser
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from harness import process, wait
from harness.errors import StepFailed
from harness.scenario import Node
from harness.secrets import redact
from harness.services import reporting

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud

STATS_PORT_OFFSET = 20000  # an API's stats port is its port + this (nova-api: 28774)


@dataclass(frozen=True)
class Api:
    name: str  # process and HAProxy frontend name, e.g. "nova-api"
    service_type: str  # keystone catalog type, e.g. "compute"
    port: int
    path: str  # endpoint path in the catalog, e.g. "/v2.1"
    wsgi: str  # module:callable run by uwsgi
    health_path: str = "/"

    @property
    def stats_port(self) -> int:
        """Where the API's server process (uwsgi's master) sends its stats, on each node's
        address: the probes' liveness check (harness/probe). Below the ephemeral ports."""
        return self.port + STATS_PORT_OFFSET


@dataclass(frozen=True)
class OnDevstack:
    """How devstack runs a service (the devstack backend reads it: backends/devstack/units.py)."""

    units: dict[str, str]  # harness process → devstack service (unit devstack@<name>.service)
    configs: tuple[str, ...]  # the files an option is set in; the first is the main one
    api_path: str | None = None  # where devstack's Apache serves the API on its node
    fronted: bool = False  # the plugin's HAProxy balances the API over every API node
    # the harness's database name → devstack's, where they differ (nova's cell1)
    databases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Schema:
    """How a fresh install creates one of the service's databases, for the schema oracle
    (the schema after the roll must equal a fresh install's of the target): the option
    naming the database (oslo.config's group.option, set through its OS_<GROUP>__<OPTION>
    environment variable, which comes before config files) and the command, less its
    --config-file arguments. `like`: a database created as a copy of another's schema
    (nova's cell0 is a cell database like nova's) has no command of its own."""

    database: str
    option: str | None = None
    command: str | None = None
    like: str | None = None

    @property
    def env(self) -> str:
        group, _, name = (self.option or "").partition(".")
        return f"OS_{group.upper()}__{name.upper()}"


@dataclass(frozen=True)
class Pins:
    """How a service caps the RPC version it sends automatically, for the rpc_pins oracle.

    nova's way: a process reads the lowest service version its `peer` processes recorded,
    maps it through its own release's history to an RPC version, and logs the choice
    (`selected`, a regex with the groups `rpc` and `service`); `facts` is Python run in a
    release's venv that prints that release's {"service_version": N, "peer_rpc": {"N":
    "x.y", ...}}. cinder's way: the peers record their RPC version itself, per binary; the
    regex's `peer` group names the binary, and `facts` prints {"accepts": {binary: "x.y"}}."""

    selected: str
    facts: str
    peer: str = ""


@dataclass(frozen=True)
class Pushes:
    """How a service's servers push versioned objects to its agents, for the rpc_pins
    oracle: neutron's push each changed object to one fanout exchange per version its
    agents reported (`exchange`, a regex with the groups `type` and `version`), and each
    agent consumes the version it knows. Every agent of `consumers` that consumes a type
    must get every push of it, in some version, while it runs."""

    exchange: str
    consumers: tuple[str, ...]


class Service:
    """Base class; subclasses fill in the class attributes and the hooks they need."""

    project = ""  # short name, also the keystone user and the DB user
    package = ""  # its PyPI project, as the release catalog pins it (default: `project`)
    devstack: OnDevstack | None = None
    resources: ModuleType | None = None  # its resource plugin: <project>/resources.py
    databases: tuple[str, ...] = ()
    schemas: tuple[Schema, ...] = ()  # how a fresh install makes each of its databases
    api: Api | None = None
    pins: Pins | None = None  # its automatic RPC cap, if it has one
    pushes: Pushes | None = None  # its servers' object pushes to its agents, if any
    # Files that belong to the code, not to the operator (paste pipelines): a release's
    # package installs them into the config dir, as a distro package does. venv path → name.
    packaged_files: dict[str, str] = {}
    actions: dict[str, Action] = {}
    # The default rolling procedure: these actions, the APIs one node at a time, those.
    before_roll: tuple[str, ...] = ()
    after_roll: tuple[str, ...] = ()
    # What its upgrade guide requires of the order: a process (key) may run the new
    # release only once every one of these runs it, on every node (the procedure oracle
    # judges what the processes ran, as the runner recorded it).
    upgraded_after: dict[str, tuple[str, ...]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.package = cls.package or cls.project

    # -- config ---------------------------------------------------------------------------

    def configure(self, cloud: Cloud, node: Node) -> None:
        """Write this service's config files for `node`."""

    conf_file: str | None = None  # its main config file's name in its config dir

    def conf(self, cloud: Cloud, node: Node | str) -> Path | None:
        """Its main config file on `node` (the host checks read the options set there)."""
        return self.config_dir(cloud, node) / self.conf_file if self.conf_file else None

    def config_dir(self, cloud: Cloud, node: Node | str) -> Path:
        return cloud.node_dir(node, self.project)

    def install(self, cloud: Cloud, node: Node, series: str) -> None:
        """Install `series` on `node`: its venv exists already; put its packaged files in
        place. The operator's config files are left exactly as they are."""
        for src, name in self.packaged_files.items():
            shutil.copyfile(cloud.venv(series) / src, self.config_dir(cloud, node) / name)

    def processes(self, node: Node) -> list[str]:
        """Every process of this service on `node`, APIs first."""
        api = [self.api.name] if self.api and node.serves(self.api.name) else []
        return api + self.daemons(node)

    # -- lifecycle hooks ------------------------------------------------------------------

    def runs_on(self, node: Node) -> bool:
        return self.api is not None and node.serves(self.api.name)

    def sync(self, cloud: Cloud, series: str) -> None:
        """Create the schema with `series` (runs once, on the controller, at `up`)."""

    def daemons(self, node: Node) -> list[str]:
        """Non-API processes of this service on `node`, in start order."""
        return []

    def daemon_argv(self, cloud: Cloud, node: Node, name: str) -> list[str]:
        raise NotImplementedError(name)

    # A daemon that others call or cast to as they start serves once it consumes its queue
    # on the broker: process name → the queue's name as an fnmatch pattern, `{host}` the
    # node's name. Waited for after each start, as the cloud comes up and in the roll.
    ready_queues: dict[str, str] = {}

    def ready_queue(self, node_name: str, name: str) -> str | None:
        pattern = self.ready_queues.get(name)
        return pattern.format(host=node_name) if pattern else None

    def wait_consuming(self, broker, host: str, name: str, timeout: float) -> None:
        """Wait until daemon `name` on `host` consumes its ready queue, if it has one, on
        `broker` (the embedded cloud's or devstack's RabbitMQ)."""
        queue = self.ready_queue(host, name)
        if queue:
            reporting.wait_consuming(broker, queue, f"{name} on {host} consuming {queue}", timeout)

    def daemon_env(self, cloud: Cloud, node: Node, name: str) -> dict[str, str]:
        """What daemon `name` needs in its environment beyond its release's venv."""
        return {}

    # Daemons that make network namespaces themselves, which others must see: started with
    # the root mount namespace (process.netns_argv).
    shared_mounts: tuple[str, ...] = ()

    def namespaces_made(self, cloud: Cloud, node: Node) -> list[str]:
        """The network namespaces its daemons made on `node` (as their state shows): the
        cloud's teardown ends what runs in them and removes them."""
        return []

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {}

    def uwsgi_options(self, cloud: Cloud, node: Node, series: str) -> dict[str, object]:
        """uwsgi options its API needs on `series` beyond those every API gets
        (base.uwsgi_ini)."""
        return {}

    def after_start(self, cloud: Cloud) -> None:
        """Anything to do once every process of the service runs on every node."""

    def wait_ready(self, conn, host: str, process: str, since, timeout: float,
                   alive=None) -> None:  # fmt: skip
        """Return once a daemon started at `since` (UTC) serves (an API's readiness is its
        answer behind HAProxy, which the backends wait for). `conn` is an admin
        openstacksdk connection, `host` the node's hostname as the service knows it, and
        `alive` (if given) says whether the process still runs, to stop waiting at once."""

    # -- upgrade --------------------------------------------------------------------------

    def roll(self, p) -> list:
        """This service's rolling procedure, as steps from the planner's Builder `p`."""
        steps = [p.manage(a) for a in self.before_roll]
        if self.api:
            steps += p.api_roll(self.api.name)
        return steps + [p.manage(a) for a in self.after_roll]

    def config_args(self, cloud: Cloud, node: Node | str) -> list[str]:
        """The --config-file arguments its management commands take on `node`."""
        conf = self.conf(cloud, node)
        return ["--config-file", str(conf)] if conf else []

    def run_action(self, cloud: Cloud, name: str, series: str) -> str | None:
        """Run upgrade action `name` with `series`'s code on the controller (the embedded
        cloud's way; the devstack backend runs the same Action on its nodes). Returns a
        finding to record, or None."""
        node = cloud.scenario.controller

        def run(command: str, ok: tuple[int, ...]) -> int:
            return self._exec(cloud, series, self._command(cloud, node, command), command, ok)

        return self.actions[name].perform(run)

    def _command(self, cloud: Cloud, node: Node, command: str) -> list[str]:
        tool, *rest = command.split()
        return [tool, *self.config_args(cloud, node), *rest]

    def _exec(self, cloud, series, argv, what, ok) -> int:
        return self.manage(cloud, series, argv, what, ok=ok)

    # -- helpers for subclasses -------------------------------------------------------------

    def manage(
        self,
        cloud: Cloud,
        series: str,
        argv: list[str],
        what: str,
        timeout: float = 600,
        env: dict | None = None,
        ok: tuple[int, ...] = (0,),
    ) -> int:
        """Run a management command with `series`'s code in the controller namespace; an
        exit status outside `ok` fails the step. Returns the exit status."""
        node = cloud.scenario.controller
        log = cloud.log_path(node, f"{self.project}-manage")
        done = process.run(argv, cloud.netns(node), cloud.service_env(series, env), log, timeout)
        if done.returncode not in ok:
            raise StepFailed(f"{what} exited {done.returncode}; see {log}")
        return done.returncode


IN_FLIGHT_PAUSE_S = 10.0  # s: a volume's create, accepted to scheduled, is done well within


@dataclass(frozen=True)
class Action:
    """An upgrade command of a service, run on the controller with the target's code.

    `command` is what an operator types, less the --config-file arguments; it is also how
    the step reads in the plan. What its exit statuses mean is said here once, and both
    backends obey it through `perform`."""

    command: str
    ok: tuple[int, ...] = (0,)
    repeat_while: int | None = None  # exit status meaning "ran some, run again"
    max_runs: int = 1
    guard: str | None = None  # a check that must exit 0, else the action is skipped…
    guard_finding: str | None = None  # …and this finding is recorded instead
    # A check that judges work in flight fails on it (cinder's Service UUIDs: a volume the
    # API just accepted has no service yet): this exit status is run again after a pause,
    # `max_runs` in all; a later pass records the failures as a finding, with this reason.
    in_flight: int | None = None
    in_flight_finding: str = ""

    def perform(self, run: Callable[[str, tuple[int, ...]], int]) -> str | None:
        """Carry the action out with `run(command, ok)`, a backend's way of running one
        management command (an exit status outside `ok` fails the step there; it returns
        the status). Returns the finding to record: the guard skipped the action, or a
        check passed only once work in flight had settled."""
        if self.guard and run(self.guard, (0, 1)) != 0:
            return self.guard_finding
        ok = self.ok if self.in_flight is None else (*self.ok, self.in_flight)
        failed, status = 0, None
        for _ in range(self.max_runs):
            if failed and status == self.in_flight:  # the pause before the check runs again
                time.sleep(IN_FLIGHT_PAUSE_S)
            status = run(self.command, ok)
            if status == self.in_flight:
                failed += 1
            elif status != self.repeat_while:
                return self._passed_late(failed)
        if failed:
            raise StepFailed(f"{self.command} exited {self.in_flight} in all {failed} runs")
        raise StepFailed(f"{self.command} still had work after {self.max_runs} runs")

    def _passed_late(self, failed: int) -> str | None:
        if not failed:
            return None
        pause = f"{IN_FLIGHT_PAUSE_S:.0f} s apart"
        return (f"{self.command} exited {self.in_flight} {failed} time(s), {pause}, "
                f"before it passed: {self.in_flight_finding}")  # fmt: skip


def write_ini(path: Path, sections: dict[str, dict[str, object]], secret: bool = True) -> Path:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # keep option names as written
    for section, options in sections.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in options.items():
            parser.set(section, key, _ini_value(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Config files hold passwords: readable by root only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "w") as f:
        parser.write(f)
    return path


def _ini_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def update_ini(path: Path, section: str, key: str, value: object) -> None:
    """Set one option in an existing file, leaving the rest of it as it was."""
    parser = read_ini(path)
    if section != "DEFAULT" and not parser.has_section(section):
        parser.add_section(section)
    parser.set(section, key, _ini_value(value))
    with open(path, "w") as f:  # keeps the file's mode (600)
        parser.write(f)


def read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    parser.read(path)
    return parser


def authtoken(cloud: Cloud, user: str) -> dict[str, str]:
    """[keystone_authtoken] for a service validating tokens as `user`."""
    section = {"www_authenticate_uri": cloud.vip_url(5000), "memcached_servers": ""}
    section.update(cloud.service_credentials(user))
    return section


def uwsgi_ini(cloud: Cloud, node: Node, api: Api, series: str, extra: dict | None = None) -> Path:
    """The uwsgi config for one API on one node (field notes: lazy-apps, die-on-term,
    need-app, and Connection: close, which stopped sporadic resets on keep-alive), plus
    the service's own `extra` options (Service.uwsgi_options)."""
    options: dict[str, object] = {
        "http-socket": f"{node.address}:{api.port}",
        "module": api.wsgi,
        "virtualenv": str(cloud.venv(series)),
        "master": True,
        "processes": cloud.scenario.services.api_workers,
        "threads": 1,
        "enable-threads": True,
        "lazy-apps": True,
        "die-on-term": True,
        "need-app": True,
        "thunder-lock": True,
        "buffer-size": 65535,
        "add-header": "Connection: close",
        "hook-master-start": "unix_signal:15 gracefully_kill_them_all",
        "worker-reload-mercy": 30,
        "start-time": "%t",
        "disable-logging": True,
        # the master answers here whatever its worker is doing: the probes' alive loop
        "stats": f"{node.address}:{api.stats_port}",
        **(extra or {}),
    }
    path = cloud.node_dir(node, api.name) / "uwsgi.ini"
    write_ini(path, {"uwsgi": options}, secret=False)
    return path


def wait_api(cloud: Cloud, node: Node, api: Api) -> float:
    url = f"http://{node.address}:{api.port}{api.health_path}"
    timeout = cloud.scenario.services.startup_timeout
    probe = min(3.0, timeout)  # one probe never outlasts the whole allowance
    try:
        return wait.until(
            lambda: wait.http_ok(url, probe), timeout, f"{api.name} on {node.name} answering {url}"
        )
    except StepFailed as e:  # say why, from the service's own log, in the same sentence
        tail = log_tail(cloud, cloud.log_path(node, api.name))
        raise StepFailed(f"{e}; its log ends: {tail}") from None


def log_tail(cloud: Cloud, path: Path, lines: int = 3, width: int = 600) -> str:
    """The last lines of a log on one line, secrets redacted, for an error message."""
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    text = " | ".join(line.strip() for line in tail)[-width:] or "(empty)"
    return redact(text, cloud.secrets.values())
