"""The embedded backend: the plan carried out on the cloud `harness up` made (processes
in network namespaces, one venv per release, the root namespace's HAProxy)."""

from __future__ import annotations

from pathlib import Path

from harness import lifecycle, nova_services, openstack_api, operations
from harness.backends import Releases, Stop
from harness.cloud import Cloud
from harness.progress import log
from harness.releases import catalog, venv
from harness.services import BY_NAME


class Embedded:
    name = "embedded"

    def __init__(self, cloud: Cloud, cache_dir: Path):
        self.cloud, self.cache_dir = cloud, cache_dir

    def ensure_venv(self, series: str) -> None:
        path, built = venv.ensure(catalog.get(series), self.cache_dir)
        if built:
            log.info("built the %s venv", series)
        self.cloud.record["venvs"][series] = str(path)
        self.cloud.save()

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
        nova_services.set_compute_enabled(openstack_api.admin(self.cloud), node, enabled)

    def releases(self) -> Releases:
        return releases_now(self.cloud)


def releases_now(cloud: Cloud) -> Releases:
    """Every process's release, asked of the process itself (the venv it runs from)."""
    venvs = {path: series for series, path in cloud.record["venvs"].items()}
    out: Releases = {}
    for proc in cloud.processes():
        release = lifecycle.running_release(proc.pid, venvs)
        if release:
            out.setdefault(proc.node, {})[proc.name] = release
    return out
