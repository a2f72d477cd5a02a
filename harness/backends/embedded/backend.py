"""The embedded backend: the plan carried out on the cloud `harness up` made (processes
in network namespaces, one venv per release, the root namespace's HAProxy)."""

from __future__ import annotations

from pathlib import Path

from harness import scenario as scenario_mod
from harness.backends import Releases, Stop, hostcheck, openstack_api
from harness.backends.embedded import collect, failover, faults, lifecycle, operations, schema
from harness.backends.embedded.cloud import Cloud
from harness.errors import UserError
from harness.plan.steps import FAILOVERS
from harness.progress import log
from harness.releases import pin_facts, venv
from harness.services import BY_NAME
from harness.services.nova import computes


class Embedded:
    name = "embedded"

    def __init__(self, cloud: Cloud, cache_dir: Path):
        self.cloud, self.cache_dir = cloud, cache_dir

    def ensure_venv(self, series: str) -> None:
        recorded = self.cloud.record["venvs"].get(series)
        if recorded and venv.is_built(Path(recorded)):  # built before up, sources and all
            return
        path, built = venv.ensure(self.cloud.scenario.side(series), self.cache_dir)
        if built:
            log.info("built the %s venv", series)
        self.cloud.record["venvs"][series] = str(path)
        self.cloud.save()

    def dump_schemas(self, run_dir: Path) -> bool:
        schema.dump_all(self.cloud, self.cloud.scenario.release_to, run_dir, self.cache_dir)
        return True

    def install(self, node: str, series: str) -> None:
        self.ensure_venv(series)
        where = self.cloud.scenario.node(node)
        for svc in BY_NAME.values():
            if svc.runs_on(where):
                svc.install(self.cloud, where, series)

    def manage(self, service: str, action: str, series: str) -> str | None:
        return BY_NAME[service].run_action(self.cloud, action, series)

    def set_option(self, service: str, node: str, section: str, key: str, value: str) -> None:
        operations.set_option(self.cloud, service, node, section, key, value)

    def restart(self, service: str, node: str, process: str, series: str) -> Stop:
        stop = operations.restart(self.cloud, service, node, process, series)
        return Stop(stop.forced, round(stop.waited, 2))

    def drain(self, frontend: str, node: str) -> None:
        operations.drain(self.cloud, frontend, node)

    def admit(self, frontend: str, ready: tuple[str, ...], drain: tuple[str, ...]) -> None:
        operations.admit(self.cloud, frontend, ready, drain)
        for server in drain:
            operations.wait_drained(self.cloud, frontend, server)

    def signal(self, node: str, process: str, sig: str) -> None:
        operations.send_signal(self.cloud, node, process, sig)

    def set_compute_enabled(self, node: str, enabled: bool) -> None:
        computes.set_compute_enabled(openstack_api.admin(self.cloud), node, enabled)

    def releases(self) -> Releases:
        return releases_now(self.cloud)

    def fault(self, action: str, node: str | None, target: str | None,
              ledger: Path) -> dict | None:  # fmt: skip
        if action in FAILOVERS:
            return failover.vip_failover(self.cloud, action)
        faults.inject(self.cloud, action, node, target, ledger)
        return None


def releases_now(cloud: Cloud) -> Releases:
    """Every process's release, asked of the process itself (the venv it runs from)."""
    venvs = {path: series for series, path in cloud.record["venvs"].items()}
    out: Releases = {}
    for proc in cloud.processes():
        release = lifecycle.running_release(proc.pid, venvs)
        if release:
            out.setdefault(proc.node, {})[proc.name] = release
    return out


class EmbeddedTarget:
    """A run's embedded target: `harness up`'s cloud, the embedded backend, the host checks
    through the namespaces, the logs from the state dir, and `harness down` at the end."""

    name = "embedded"
    trace_bus = True  # RabbitMQ is ours: the tracer sees every message

    def __init__(self, scenario_path: Path, scenario, state_dir: Path, cache_dir: Path,
                 overrides=None):  # fmt: skip
        self.scenario_path, self.scenario, self.overrides = scenario_path, scenario, overrides
        self.state_dir, self.cache_dir = state_dir, cache_dir
        self.cloud: Cloud | None = None
        self.backend: Embedded | None = None

    @classmethod
    def open(cls, scenario_path: Path, state_dir: Path, cache_dir: Path, nodes: Path | None,
             overrides=None) -> EmbeddedTarget:  # fmt: skip
        if nodes is not None:
            raise UserError("--nodes is for the devstack backend (add --backend devstack).")
        s = scenario_mod.load(scenario_path, overrides)
        return cls(scenario_path, s, state_dir, cache_dir, overrides)

    def up(self) -> Cloud:
        Cloud.refuse_if_up(self.state_dir)  # before minutes of venv building, not after
        # Both releases are built before anything runs: a broken lock fails here, not mid-roll.
        s = self.scenario
        venvs = lifecycle.build_venvs([s.side_from, s.side_to], self.cache_dir)
        self.cloud = lifecycle.up(self.scenario_path, self.state_dir, self.cache_dir, venvs,
                                  self.overrides)  # fmt: skip
        self.backend = Embedded(self.cloud, self.cache_dir)
        return self.cloud

    def installed(self) -> dict[str, dict[str, str]]:
        """From the manifest of each venv the harness built for the cloud."""
        built = {series: Path(path) for series, path in
                 (self.cloud.record["venvs"] if self.cloud else {}).items()}  # fmt: skip
        manifests = {series: venv.manifest(p) for series, p in built.items() if venv.is_built(p)}
        return {series: m["projects"] for series, m in manifests.items() if m.get("projects")}

    def pin_facts(self, project: str) -> dict[str, dict]:
        """Read in each venv the harness built for the cloud."""
        venvs = self.cloud.record["venvs"] if self.cloud else {}
        return {series: facts for series, path in venvs.items()
                if (facts := pin_facts.read(Path(path) / "bin" / "python", project))}  # fmt: skip

    def check_hosts(self, plan) -> dict:
        return hostcheck.check_hosts(self.cloud, plan)

    def collect_logs(self, dest: Path) -> int:
        return collect.collect_logs(self.cloud, dest)

    def down(self) -> None:
        lifecycle.down(self.state_dir)
