"""The devstack backend: the plan carried out on real devstack nodes through testinfra.

Each node is a testinfra host (SSH by default, any testinfra URL in the nodes file); what
a step runs there is harness/backends/devstack/units.py's `commands(step)` — systemd units
devstack@<name>, each release in a venv of its own, devstack's iniset, the plugin's
HAProxy admin socket on every API node. What is the same on every backend (waiting for
a nova service to report in, disabling a compute) goes through the API.

`DevstackCloud` is what the load, the resources and the first server need of the cloud
(the scenario, the VIP, endpoints and the admin password) — the embedded `Cloud`'s
counterpart, with nothing to bring up or take down: devstack deployed it.
"""

from __future__ import annotations

import configparser
import datetime
import json
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from openstack import exceptions as os_exceptions
from openstack.config import loader
from testinfra.host import Host

from harness import wait
from harness.backends import Releases, Stop
from harness.backends.devstack import units as ds
from harness.backends.devstack.nodes import Site
from harness.backends.hostcheck import show_stat
from harness.backends.hosts import get_host
from harness.errors import StepFailed, UserError
from harness.plan import steps as st
from harness.probe import vip
from harness.process import OUTPUT_KEPT
from harness.progress import log
from harness.releases import pin_facts, venv
from harness.releases.catalog import is_catalogued
from harness.releases.sources import check_series
from harness.scenario import Scenario
from harness.secrets import SECRETS, Secrets
from harness.services import BY_NAME, ORDER
from harness.services.nova import computes


class DevstackCloud:
    """The cloud devstack deployed, as the load, resources and smoke test address it."""

    def __init__(self, scenario: Scenario, site: Site, state_dir: Path, admin: dict):
        self.scenario, self.site, self.state_dir = scenario, site, state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.secrets = Secrets(state_dir / SECRETS)
        self.secrets.put("user-admin", admin["password"])  # devstack's, read on the controller
        self._identity = admin["auth_url"].rstrip("/").removesuffix("/v3")
        self._broker: DevstackBroker | None = None

    @property
    def vip(self) -> str:
        return self.site.vip

    def broker(self) -> DevstackBroker:
        return self._broker

    def use_broker(self, host: Host, transport_url: str) -> None:
        """devstack's RabbitMQ (nova's transport_url), managed on the controller."""
        self._broker = DevstackBroker(host, transport_url)
        self.secrets.put("rabbit-devstack", self._broker.credentials()["password"])

    @property
    def bridge(self) -> None:
        return None  # the gate's network, not ours: nothing to watch

    @property
    def auth_url(self) -> str:
        return self._identity + "/v3"

    def endpoint(self, project: str) -> str:
        if project == "keystone":
            return self._identity
        if project == "nova":  # through the plugin's HAProxy on the VIP
            return f"http://{self.vip}:{self.site.nova_port}{ds.API_PATHS['nova-api']}"
        return f"http://{self.site.controller.address}{ds.API_PATHS[BY_NAME[project].api.name]}"


class DevstackBroker:
    """devstack's RabbitMQ for the bus tracer: nova's credentials, rabbitmqctl on the node."""

    def __init__(self, host: Host, transport_url: str):
        self.host = host
        # oslo.messaging may list several brokers; devstack has one.
        url = urlsplit(transport_url.split(",")[0])
        self._credentials = {
            "host": url.hostname, "port": url.port or 5672,
            "user": unquote(url.username or ""), "password": unquote(url.password or ""),
        }  # fmt: skip

    def credentials(self) -> dict:
        return dict(self._credentials)

    def ctl(self, *args: str) -> str:
        out = self.host.run("rabbitmqctl " + shlex.join(args))
        if out.rc != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} exited {out.rc}")
        return out.stdout


def transport_url(host: Host, path: str = ds.CONFIG["nova"]) -> str:
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    parser.read_string(host.file(path).content_string)
    if not parser.has_option("DEFAULT", "transport_url"):
        raise UserError(f"{path} on the controller has no [DEFAULT] transport_url.")
    return parser.get("DEFAULT", "transport_url")


def admin_credentials(site: Site, host: Host, workdir: Path) -> dict:
    """The admin entry of devstack's clouds.yaml on the controller, as openstacksdk's own
    config loader reads it — with the secure.yaml beside it merged in, as the openstack
    client would. The files are copied into `workdir` (mode 600) for the loader."""
    remote = PurePosixPath(site.clouds_yaml)
    copies = {}
    for path in (remote, remote.with_name("secure.yaml")):
        text = host.file(str(path)).content_string
        if text.strip():
            copies[path] = workdir / f"devstack-{path.name}"
            fd = os.open(copies[path], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
    if remote not in copies:
        raise UserError(f"{site.clouds_yaml} on the controller is missing or empty.")
    secure = [str(p) for r, p in copies.items() if r != remote]
    config = loader.OpenStackConfig(config_files=[str(copies[remote])], secure_files=secure,
                                    load_envvars=False)  # fmt: skip
    try:
        auth = config.get_one(site.cloud).auth
    except os_exceptions.ConfigException:
        raise UserError(
            f"{site.clouds_yaml} on the controller has no cloud {site.cloud!r}."
        ) from None
    if not auth.get("auth_url") or not auth.get("password"):
        raise UserError(f"The cloud {site.cloud!r} of {site.clouds_yaml} on the controller has "
                        "no auth_url or no password (nor has its secure.yaml).")  # fmt: skip
    return dict(auth)


class Devstack:
    name = "devstack"

    def __init__(self, scenario: Scenario, site: Site, hosts: dict[str, Host],
                 connect: Callable, layout: ds.Layout | None = None,
                 broker: DevstackBroker | None = None):  # fmt: skip
        """`connect()` returns an admin openstacksdk connection (through the VIP);
        `broker`, devstack's RabbitMQ, tells when a restarted daemon consumes."""
        self.scenario, self.site, self.hosts, self.connect = scenario, site, hosts, connect
        self.broker = broker
        self.layout = layout or ds.Layout(base=scenario.release_from)
        self.timeout = scenario.services.startup_timeout
        # series → project → version, as read on the nodes: what each side runs
        self.installed: dict[str, dict[str, str]] = {}
        # project → series → its automatic RPC cap's facts, read in the same venvs
        self.pin_facts: dict[str, dict[str, dict]] = {}

    # -- running commands ---------------------------------------------------------------

    def run(self, node: str, command: str, ok: tuple[int, ...] | None = None):
        """Run `command` on `node`: its output, or (given `ok`, the exit statuses that are
        fine) its exit status. Any other status fails the step, with the node's words."""
        out = self.hosts[node].run(command)
        log.debug("on %s: $ %s exited %d", node, command, out.rc)
        if out.stdout.strip() or out.stderr.strip():
            log.debug("%s", (out.stdout + out.stderr).strip()[-OUTPUT_KEPT:])
        if out.rc not in (ok or (0,)):
            raise StepFailed(
                f"on {node}, `{command[:160]}` exited {out.rc}: {out.stderr.strip()[-300:]}"
            )
        return out.stdout if ok is None else out.rc

    def api_nodes(self) -> list[str]:
        """The nodes running nova-api, each with the plugin's HAProxy in front of it."""
        return [n.name for n in self.scenario.serving("nova-api")]

    def carry_out(self, step: st.Step) -> list[str]:
        """Run the step's devstack commands in order; return their outputs."""
        return self.run_commands(ds.commands(step, self.layout, self.scenario.controller.name))

    def run_commands(self, commands: list[ds.Command]) -> list[str]:
        """Each command on its node (`*api`: on every API node) in order; their outputs."""
        outputs = []
        for c in commands:
            for node in self.api_nodes() if c.node == "*api" else [c.node]:
                outputs.append(self.run(node, c.command))
        return outputs

    # -- the backend's operations ---------------------------------------------------------

    def install(self, node: str, series: str) -> None:
        side = self.scenario.side(series)
        sourced = {src.project for src in side.sources}
        # The harness's requirements for the release (its lock less the projects given as
        # sources) and its constraints go beside the venv it builds.
        self.write(node, f"{self.layout.releases}/{series}.txt",
                   "\n".join(venv.requirements(side, sourced)) + "\n")  # fmt: skip
        if side.constraints:
            self.write(node, f"{self.layout.releases}/{series}-constraints.txt",
                       side.constraints.path.read_text())  # fmt: skip
        # A release without sources is the same command as its Install step's.
        self.run(node, ds.install_command(self.layout, series, side.sources,
                                          side.constraints is not None))  # fmt: skip
        found = self.read_installed(node, series, self.layout.venv(series))
        for src in side.sources:  # pbr versioned it on the node: is it this side's code?
            try:
                check_series(src, found[src.project], side.series, is_catalogued(side.series.name))
            except UserError as e:
                raise StepFailed(str(e)) from None

    def read_deployed(self) -> None:
        """The old side's versions: what devstack deployed, in its venv on the controller
        (left to the catalog's, with a warning, if that venv lacks a rolled project)."""
        try:
            self.read_installed(self.scenario.controller.name, self.scenario.release_from,
                                self.layout.global_venv)  # fmt: skip
        except StepFailed as e:
            log.warning("devstack's installed versions are unknown, the report gives the "
                        "catalog's: %s", e)  # fmt: skip

    def read_installed(self, node: str, series: str, venv_dir: str) -> dict[str, str]:
        """Each rolled project's version in the venv at `venv_dir` on `node`, recorded as
        `series`'s (the first node's; another node's differing is warned of)."""
        out = self.run(node, ds.installed_versions(venv_dir))
        try:
            found = json.loads(out)
        except json.JSONDecodeError:
            raise StepFailed(f"on {node}, the versions in {venv_dir} were unreadable: "
                             f"{out.strip()[-200:]!r}") from None  # fmt: skip
        known = self.installed.setdefault(series, found)
        if known != found:
            log.warning("%s on %s holds %s, not %s as on the node read first", series, node,
                        found, known)  # fmt: skip
        self.read_pin_facts(node, series, venv_dir)
        return found

    def read_pin_facts(self, node: str, series: str, venv_dir: str) -> None:
        for svc in ORDER:
            if svc.pins is None or series in self.pin_facts.get(svc.project, {}):
                continue
            out = self.hosts[node].run(pin_facts.remote_command(venv_dir, svc.project))
            facts = pin_facts.parse(out.stdout, f"{venv_dir} on {node}")
            if facts:
                self.pin_facts.setdefault(svc.project, {})[series] = facts

    def write(self, node: str, path: str, text: str) -> None:
        folder = path.rsplit("/", 1)[0]
        self.run(node, f"mkdir -p {folder} && cat > {path} <<'UH_FILE'\n{text}UH_FILE")

    def manage(self, service: str, action: str, series: str) -> str | None:
        """The service's Action, with its exit statuses' meaning (a guard, "repeat while
        1", warnings that are fine), on the controller — as the embedded backend runs it."""
        controller = self.scenario.controller.name

        def run(command: str, ok: tuple[int, ...]) -> int:
            return self.run(controller, ds.manage_command(command, self.layout, series), ok)

        return BY_NAME[service].actions[action].perform(run)

    def set_option(self, service: str, node: str, section: str, key: str, value: str) -> None:
        self.carry_out(st.SetOption(service, node, section, key, value))

    def restart(self, service: str, node: str, process: str, series: str) -> Stop:
        if process not in ds.UNITS:
            raise StepFailed(f"devstack runs no unit for {process}")
        paused = self.pause_checks(process, node)
        stopped, *_ = self.carry_out(st.Restart(service, node, process, series))
        since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        if paused:
            self.resume_checks(process, node)
        self.wait_started(service, node, process, since)
        return parse_stop(stopped)

    def pause_checks(self, frontend: str, server: str) -> bool:
        """As the embedded backend does (operations.pause_checks, which says why): a
        drained API backend goes into maintenance for its restart, pausing HAProxy's checks."""
        if frontend not in ds.FRONTED:
            return False
        nodes = self.api_nodes()
        if any(self.stats(n)[(frontend, server)]["status"] != "DRAIN" for n in nodes):
            return False
        self.run_commands([ds.haproxy_command(f"set server {frontend}/{server} state maint",
                                              self.layout)])  # fmt: skip
        return True

    def resume_checks(self, frontend: str, server: str) -> None:
        """Once the restarted backend answers us directly, drained again (checks on)."""
        address, port = self.server_address(frontend, server)
        url = f"http://{address}:{port}/"
        self.wait_url(server, url, f"{frontend} on {server} answering {url}", patience=3)
        self.run_commands([ds.haproxy_command(f"set server {frontend}/{server} state drain",
                                              self.layout)])  # fmt: skip

    def server_address(self, frontend: str, server: str) -> tuple[str, int]:
        """The backend's address and port as HAProxy has them (`show servers state`)."""
        node = self.api_nodes()[0]
        out = self.run(node, f"echo {shlex.quote(f'show servers state {frontend}')} | "
                             f"socat stdio unix-connect:{self.layout.admin_socket}")  # fmt: skip
        lines = [ln for ln in out.splitlines() if ln.strip()]
        header = next((ln.lstrip("# ").split() for ln in lines if ln.startswith("#")), [])
        for line in lines:
            row = dict(zip(header, line.split(), strict=False))  # the first line: a count
            if row.get("srv_name") == server and "srv_addr" in row and "srv_port" in row:
                return row["srv_addr"], int(row["srv_port"])
        raise StepFailed(f"HAProxy on {node} has no address for {frontend}/{server}")

    def wait_started(self, service: str, node: str, process: str, since) -> None:
        api = BY_NAME[service].api
        if api and process == api.name:
            if process in ds.FRONTED:
                self.wait_backend(node, process, ("UP", "DRAIN"))
            else:
                self.wait_answering(node, process)
        else:
            hostname = self.site.node(node).hostname
            svc = BY_NAME[service]
            svc.wait_ready(self.connect(), hostname, process, since, self.timeout)
            if self.broker is not None:
                svc.wait_consuming(self.broker, hostname, process, self.timeout)

    def wait_answering(self, node: str, api: str) -> None:
        """An API behind devstack's Apache serves once it answers below 500 there."""
        address = self.site.node(node).address
        self.wait_url(node, f"http://{address}{ds.API_PATHS[api]}/", f"{api} on {node} answering")

    def wait_url(self, node: str, url: str, what: str, patience: int = 5) -> None:
        """Wait until `url`, asked from `node` (curl, `patience` s each), answers below 500."""
        probe = f"curl -s -o /dev/null -m {patience} -w '%{{http_code}}' {shlex.quote(url)}"

        def answering() -> bool:
            code = self.hosts[node].run(probe).stdout.strip()
            return code.isdigit() and 100 <= int(code) < 500

        wait.until(answering, self.timeout, what, interval=1.0)

    def stats(self, node: str) -> dict[tuple[str, str], dict]:
        rows = show_stat(self.hosts[node], self.layout.admin_socket)
        return {(r["pxname"], r["svname"]): r for r in rows}

    def wait_backend(self, server: str, frontend: str, states: tuple[str, ...]) -> None:
        """Every API node's HAProxy sees `server` in one of `states`."""
        for node in self.api_nodes():
            wait.until(
                lambda n=node: self.stats(n)[(frontend, server)]["status"] in states,
                self.timeout, f"{frontend}/{server} {' or '.join(states)} in {node}'s HAProxy",
                interval=0.5,
            )  # fmt: skip

    def wait_drained(self, frontend: str, server: str, timeout: float = 120) -> None:
        for node in self.api_nodes():
            wait.until(
                lambda n=node: int(self.stats(n)[(frontend, server)]["scur"] or 0) == 0,
                timeout, f"{frontend}/{server} sessions reaching zero in {node}'s HAProxy",
                interval=0.5,
            )  # fmt: skip

    def drain(self, frontend: str, node: str) -> None:
        if frontend not in ds.FRONTED:
            # devstack runs this API once, on the controller, behind Apache: nothing to
            # drain, and its restart is an outage the failed-requests oracle will see.
            log.warning("   %s on devstack has no second instance behind HAProxy", frontend)
            return
        self.carry_out(st.Drain(_service(frontend), node))
        self.wait_drained(frontend, node)

    def admit(self, frontend: str, ready: tuple[str, ...], drain: tuple[str, ...]) -> None:
        if frontend not in ds.FRONTED:
            return
        self.carry_out(st.Admit(_service(frontend), ready, drain))
        for server in ready:
            self.wait_backend(server, frontend, ("UP",))
        for server in drain:
            self.wait_drained(frontend, server)

    def signal(self, node: str, process: str, sig: str) -> None:
        self.carry_out(st.Signal(_service_of(process), node, process, sig))
        time.sleep(0.5)  # let it act on the signal before the next step touches it

    def set_compute_enabled(self, node: str, enabled: bool) -> None:
        hostname = self.site.node(node).hostname
        computes.set_compute_enabled(self.connect(), hostname, enabled)

    def releases(self) -> Releases:
        return {node: self.node_releases(node) for node in self.hosts}

    def dump_schemas(self, run_dir: Path) -> bool:
        """schema/rolled/ (devstack's databases now) and schema/fresh/ (the target's sync
        commands into scratch databases), named as the embedded backend names them, on the
        controller's database as devstack's user."""
        out = run_dir / "schema"
        for which in ("rolled", "fresh"):
            (out / which).mkdir(parents=True, exist_ok=True)
        controller = self.scenario.controller.name
        for svc in (s for s in BY_NAME.values() if s.schemas and s.devstack):
            for schema in svc.schemas:
                name = ds.database(svc.project, schema.database)
                dump = self.run(controller, ds.dump_command(self.layout, name))
                (out / "rolled" / f"{schema.database}.sql").write_text(dump)
            fresh = self._fresh(svc, self.scenario.release_to)
            for schema in svc.schemas:
                text = fresh[schema.like or schema.database]
                (out / "fresh" / f"{schema.database}.sql").write_text(text)
        return True

    def _fresh(self, svc, series: str) -> dict[str, str]:
        """database → a fresh install's dump, made now in scratch databases then dropped."""
        controller = self.scenario.controller.name
        own = [s for s in svc.schemas if s.command]
        scratch = {s.database: s.database + ds.SCRATCH for s in own}
        log.info("schema: a fresh %s install on %s", svc.project, series)
        try:
            for name in scratch.values():
                create = f"CREATE DATABASE `{name}` CHARACTER SET utf8"
                self.run(controller, ds.mysql(self.layout, "mysql", "-e", create))
            for s in own:
                self.run(controller, ds.fresh_sync_command(self.layout, svc.project, s, series))
            return {database: self.run(controller, ds.dump_command(self.layout, name))
                    for database, name in scratch.items()}  # fmt: skip
        finally:  # best effort: a failed sync must not leave its scratch databases behind
            drop = "".join(f"DROP DATABASE IF EXISTS `{name}`;" for name in scratch.values())
            self.hosts[controller].run(ds.mysql(self.layout, "mysql", "-e", drop))

    def fault(self, action: str, node: str | None, target: str | None,
              ledger: Path) -> dict | None:  # fmt: skip
        if action in st.FAILOVERS:
            return self.vip_failover(action)
        raise StepFailed(
            f"the fault {action!r} is the embedded backend's: devstack nodes "
            "are the gate's; the selftest breaks only clouds the harness made"
        )

    def vip_failover(self, action: str) -> dict:
        """The plugin's HAProxy (or keepalived) on the node holding the VIP broken, measured
        through the VIP as the embedded backend does, then restored."""
        if not self.site.vip or self.site.vip == self.site.controller.address:
            raise StepFailed(f"{action} needs the plugin's keepalived (UPGRADE_HARNESS_VIP)")
        stop, start = ds.FAILOVER_UNITS[action]

        def holders() -> list[str]:
            check = ds.holds_vip(self.site.vip)
            return [n for n in self.api_nodes() if self.run(n, check, ok=(0, 1)) == 0]

        # The plugin's HAProxy fronts nova-api on the VIP (devstack's Apache has the rest)
        measured = vip.failover(self.site.vip, self.site.nova_port, holders,
                                lambda n: self.run(n, stop),
                                lambda n: self.run(n, start))  # fmt: skip
        return {"action": action, "vip": self.site.vip, **measured}

    def node_releases(self, node: str) -> dict[str, str]:
        """Each devstack unit's release, from the venv its ExecStart runs."""
        names = {ds.unit(p): p for p in ds.UNITS}
        script = " ".join(
            f"echo {u} $(systemctl show -p ExecStart --value {u} 2>/dev/null "
            f"| grep -o 'path=[^ ;]*' | head -1);"
            for u in names
        )
        out: dict[str, str] = {}
        for line in self.run(node, script).splitlines():
            unit, _, path = line.partition(" ")
            release = self.release_of(path.removeprefix("path="))
            if unit in names and release:
                out[names[unit]] = release
        return out

    def release_of(self, path: str) -> str | None:
        if path.startswith(self.layout.releases + "/"):
            return path[len(self.layout.releases) + 1 :].split("/")[0]
        if path.startswith(self.layout.global_venv + "/"):
            return self.scenario.release_from  # devstack's own install: the old release
        return None


def parse_stop(output: str) -> Stop:
    """`timed_stop`'s output: milliseconds, then systemd's Result for the stop."""
    try:
        ms, result = output.split()
    except ValueError:
        raise StepFailed(f"could not read how the stop went: {output.strip()[:200]!r}") from None
    return Stop(forced=result == "timeout", waited=round(int(ms) / 1000, 2))


def _service(api: str) -> str:
    return next(s.project for s in BY_NAME.values() if s.api and s.api.name == api)


def _service_of(process: str) -> str:
    return next(s.project for s in BY_NAME.values() if process.startswith(s.project + "-"))


def hosts_for(site: Site) -> dict[str, Host]:
    return {n.name: get_host(n.url) for n in site.nodes}
