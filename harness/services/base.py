"""What every OpenStack service module provides, and the helpers they share.

A service module says what it installs (its PyPI project in the release venv), its config
per node, its DB sync at the base release, its processes per node and, for API services,
how HAProxy and the keystone catalog reach it. The lifecycle (harness.lifecycle) walks
the services in order and never needs to know one from another.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from harness import process, wait
from harness.cloud import Cloud
from harness.errors import StepFailed
from harness.infra.haproxy import Frontend
from harness.scenario import Node


@dataclass(frozen=True)
class Api:
    name: str  # process and HAProxy frontend name, e.g. "nova-api"
    service_type: str  # keystone catalog type, e.g. "compute"
    port: int
    path: str  # endpoint path in the catalog, e.g. "/v2.1"
    wsgi: str  # module:callable run by uwsgi
    health_path: str = "/"

    @property
    def frontend(self) -> Frontend:
        return Frontend(self.name, self.port, self.health_path)


class Service:
    """Base class; subclasses fill in the class attributes and the hooks they need."""

    project = ""  # short name, also the keystone user and the DB user
    databases: tuple[str, ...] = ()
    api: Api | None = None

    # -- config ---------------------------------------------------------------------------

    def configure(self, cloud: Cloud, node: Node) -> None:
        """Write this service's config files for `node`."""

    def config_dir(self, cloud: Cloud, node: Node | str) -> Path:
        return cloud.node_dir(node, self.project)

    # -- lifecycle hooks ------------------------------------------------------------------

    def runs_on(self, node: Node) -> bool:
        return self.api is not None and node.has("api")

    def sync(self, cloud: Cloud) -> None:
        """Create/upgrade the schema with the base release (runs once, on the controller)."""

    def daemons(self, node: Node) -> list[str]:
        """Non-API processes of this service on `node`, in start order."""
        return []

    def daemon_argv(self, cloud: Cloud, node: Node, name: str) -> list[str]:
        raise NotImplementedError(name)

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {}

    def after_start(self, cloud: Cloud) -> None:
        """Anything to do once every process of the service runs on every node."""

    # -- helpers for subclasses -------------------------------------------------------------

    def manage(
        self,
        cloud: Cloud,
        argv: list[str],
        what: str,
        timeout: float = 600,
        env: dict | None = None,
    ) -> None:
        """Run a management command (db sync…) in the controller namespace, on the release
        the controller runs for this service."""
        node = cloud.scenario.controller
        series = cloud.release(node.name, self.project)
        log = cloud.log_path(node, f"{self.project}-manage")
        done = process.run(argv, cloud.netns(node), cloud.service_env(series, env), log, timeout)
        if done.returncode != 0:
            raise StepFailed(f"{what} exited {done.returncode}; see {log}")


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


def read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    parser.read(path)
    return parser


def authtoken(cloud: Cloud, user: str) -> dict[str, str]:
    """[keystone_authtoken] for a service validating tokens as `user`."""
    section = {"www_authenticate_uri": cloud.vip_url(5000), "memcached_servers": ""}
    section.update(cloud.service_credentials(user))
    section.pop("region_name")
    section["region_name"] = "RegionOne"
    return section


def uwsgi_ini(cloud: Cloud, node: Node, api: Api, env: dict[str, str], series: str) -> Path:
    """The uwsgi config for one API on one node (field notes: lazy-apps, die-on-term,
    need-app, and Connection: close, which stopped sporadic resets on keep-alive)."""
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
    }
    path = cloud.node_dir(node, api.name) / "uwsgi.ini"
    write_ini(path, {"uwsgi": options}, secret=False)
    return path


def wait_api(cloud: Cloud, node: Node, api: Api) -> float:
    url = f"http://{node.address}:{api.port}{api.health_path}"
    timeout = cloud.scenario.services.startup_timeout
    probe = min(3.0, timeout)  # one probe never outlasts the whole allowance
    return wait.until(
        lambda: wait.http_ok(url, probe), timeout, f"{api.name} on {node.name} answering {url}"
    )
