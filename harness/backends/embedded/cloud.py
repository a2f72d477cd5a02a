"""The cloud context: where a cloud's files live, its secrets, and its record on disk.

One cloud at a time per state directory. `cloud.json` records everything `up` created
(namespaces, links, processes with pid and start time, which release each service runs
on each node) the moment it is created, so `down`, a Ctrl-C or a failed `up` can undo
exactly that and nothing else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness import process
from harness.backends.embedded.infra import mariadb, rabbitmq
from harness.backends.embedded.netns import netns_name
from harness.backends.openstack_api import CLOUDS_YAML
from harness.errors import UserError
from harness.scenario import Node, Scenario, parse
from harness.secrets import SECRETS, Secrets
from harness.services import BY_NAME

DEFAULT_STATE_DIR = Path("/var/lib/upgrade-harness")
RECORD = "cloud.json"


def default_state_dir() -> Path:
    return Path(os.environ.get("HARNESS_STATE_DIR") or DEFAULT_STATE_DIR)


class Cloud:
    def __init__(self, scenario: Scenario, state_dir: Path, record: dict | None = None):
        self.scenario = scenario
        self.state_dir = state_dir
        self.secrets = Secrets(state_dir / SECRETS)
        self.record = record or {
            "scenario": scenario.name,
            "scenario_data": None,
            "status": "starting",
            "bridge": None,
            "namespaces": [],
            "processes": [],
            "releases": {},
            "venvs": {},
            "stops": [],
        }

    # -- persistence --------------------------------------------------------------------

    @staticmethod
    def refuse_if_up(state_dir: Path) -> None:
        """One cloud per state dir: say so (exit 2) before anything is built or started."""
        if (state_dir / RECORD).exists():
            existing = json.loads((state_dir / RECORD).read_text())
            raise UserError(
                f"A cloud from scenario {existing.get('scenario')!r} is already up "
                f"(state in {state_dir}); run 'harness down' first."
            )

    @classmethod
    def create(cls, scenario: Scenario, scenario_data: dict, state_dir: Path) -> Cloud:
        cls.refuse_if_up(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(state_dir, 0o755)  # mysql must traverse it to its data dir
        (state_dir / SECRETS).unlink(missing_ok=True)
        (state_dir / "home").mkdir(mode=0o700, exist_ok=True)
        cloud = cls(scenario, state_dir)
        cloud.record["scenario_data"] = scenario_data
        cloud.save()
        return cloud

    @classmethod
    def load(cls, state_dir: Path) -> Cloud | None:
        path = state_dir / RECORD
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        # Its venvs are built and recorded: the sources need not be read (nor still exist).
        scenario = parse(record["scenario_data"], Path(record["scenario"]), sources=False)
        return cls(scenario, state_dir, record)

    def save(self) -> None:
        tmp = self.state_dir / (RECORD + ".tmp")
        tmp.write_text(json.dumps(self.record, indent=2))
        tmp.replace(self.state_dir / RECORD)

    def forget(self) -> None:
        for name in (RECORD, SECRETS, CLOUDS_YAML):  # the client's file holds a password
            (self.state_dir / name).unlink(missing_ok=True)

    # -- what runs where ----------------------------------------------------------------

    def add_process(self, proc: process.Proc) -> None:
        self.record["processes"].append(proc.to_dict())
        self.save()

    def processes(self, node: str | None = None, name: str | None = None) -> list[process.Proc]:
        procs = [process.Proc(**p) for p in self.record["processes"]]
        return [
            p
            for p in procs
            if (node is None or p.node == node) and (name is None or p.name == name)
        ]

    def remove_process(self, proc: process.Proc) -> None:
        self.record["processes"] = [
            p for p in self.record["processes"] if p["pid"] != proc.pid or p["node"] != proc.node
        ]
        self.save()

    def set_release(self, node: str, name: str, series: str) -> None:
        """The release process `name` on `node` was last started on."""
        self.record["releases"].setdefault(node, {})[name] = series
        self.save()

    def release(self, node: str, name: str) -> str:
        return self.record["releases"].get(node, {}).get(name, self.scenario.release_from)

    def venv(self, series: str) -> Path:
        return Path(self.record["venvs"][series])

    # -- paths ----------------------------------------------------------------------------

    def netns(self, node: Node | str) -> str:
        return netns_name(self.scenario.network, node)

    def node_dir(self, node: Node | str, service: str) -> Path:
        name = node if isinstance(node, str) else node.name
        path = self.state_dir / "nodes" / name / service
        path.mkdir(parents=True, exist_ok=True)
        return path

    def shared_dir(self, name: str) -> Path:
        """Storage every node sees (an image store, say), as NFS would give in a real cloud."""
        path = self.state_dir / "shared" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, node: Node | str, name: str) -> Path:
        node_name = node if isinstance(node, str) else node.name
        return self.state_dir / "logs" / node_name / f"{name}.log"

    # -- addresses and credentials --------------------------------------------------------

    @property
    def vip(self) -> str:
        return self.scenario.network.vip

    def vip_url(self, port: int, path: str = "") -> str:
        return f"http://{self.vip}:{port}{path}"

    def broker(self):
        """The message bus, for the tracer (harness/bus/control.py)."""
        return rabbitmq.Broker(self)

    def endpoint(self, project: str) -> str:
        """The base URL of a project's API behind the VIP (what a client puts paths after)."""
        return self.vip_url(BY_NAME[project].api.port)

    @property
    def auth_url(self) -> str:
        return self.endpoint("keystone") + "/v3"

    @property
    def bridge(self) -> str | None:
        """The bridge that makes the VIP ours (the load stops if it goes away)."""
        return self.scenario.network.bridge

    @property
    def controller_address(self) -> str:
        return self.scenario.controller.address

    def db_url(self, user: str, database: str) -> str:
        password = self.secrets.get(f"db-{user}")
        where = f"{self.controller_address}:{mariadb.PORT}"
        return f"mysql+pymysql://{user}:{password}@{where}/{database}?charset=utf8"

    @property
    def transport_url(self) -> str:
        password = self.secrets.get("rabbit-openstack")
        return f"rabbit://openstack:{password}@{self.controller_address}:{rabbitmq.PORT}/"

    def service_credentials(self, user: str) -> dict[str, str]:
        """A [keystone_authtoken]-style section for a service user in the service project."""
        return {
            "auth_url": self.vip_url(5000),
            "auth_type": "password",
            "project_domain_name": "Default",
            "user_domain_name": "Default",
            "project_name": "service",
            "username": user,
            "password": self.secrets.get(f"user-{user}"),
            "region_name": "RegionOne",
        }

    def service_env(self, series: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A clean environment for a service process: its release's venv first on PATH."""
        bin_dir = self.venv(series) / "bin"
        env = {
            "PATH": f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            # a home of its own, removed at down: stevedore caches entry points under it
            "HOME": str(self.state_dir / "home"),
            "LANG": "C.UTF-8",
            "VIRTUAL_ENV": str(self.venv(series)),
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra or {})
        return env
