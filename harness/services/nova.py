"""Nova: API on every API node, conductor and scheduler on the controller, a compute
(fake driver) on every compute node."""

from __future__ import annotations

from harness import process, wait
from harness.cloud import Cloud
from harness.errors import StepFailed
from harness.scenario import Node
from harness.services.base import Api, Service, authtoken, write_ini

CONTROLLER_DAEMONS = ("nova-conductor", "nova-scheduler")


class Nova(Service):
    project = "nova"
    databases = ("nova_api", "nova", "nova_cell0")
    api = Api("nova-api", "compute", 8774, "/v2.1", "nova.wsgi.osapi_compute:application")

    def conf(self, cloud: Cloud, node: Node | str):
        return self.config_dir(cloud, node) / "nova.conf"

    def runs_on(self, node: Node) -> bool:
        return node.has("api") or node.has("compute") or node.has("controller")

    def db_conf(self, cloud: Cloud, node: Node | str):
        return self.config_dir(cloud, node) / "nova-db.conf"

    def configure(self, cloud: Cloud, node: Node) -> None:
        base = self.config_dir(cloud, node)
        (base / "state").mkdir(exist_ok=True)
        creds = cloud.service_credentials("nova")
        # Database credentials live in their own file, given to every nova process except
        # nova-compute: computes reach the database only through the conductor.
        write_ini(
            self.db_conf(cloud, node),
            {
                "api_database": {"connection": cloud.db_url("nova", "nova_api")},
                "database": {"connection": cloud.db_url("nova", "nova")},
            },
        )
        write_ini(
            self.conf(cloud, node),
            {
                "DEFAULT": {
                    "debug": False,
                    # Every node its own host: service records are per (host, binary).
                    "host": node.name,
                    "my_ip": node.address,
                    "transport_url": cloud.transport_url,
                    "compute_driver": "fake.FakeDriverWithoutFakeNodes",
                    "state_path": base / "state",
                },
                "api": {"auth_strategy": "keystone"},
                "keystone_authtoken": authtoken(cloud, "nova"),
                "service_user": {"send_service_user_token": True, **creds},
                "placement": creds,
                "neutron": creds,
                "glance": {"region_name": "RegionOne"},
                "scheduler": {"discover_hosts_in_cells_interval": 5, "workers": 1},
                "conductor": {"workers": 1},
                "oslo_concurrency": {"lock_path": base / "locks"},
                "oslo_messaging_notifications": {"driver": "noop"},
                "vnc": {"enabled": False},
                "wsgi": {"api_paste_config": self.paste_ini(cloud, node)},
            },
        )

    def paste_ini(self, cloud: Cloud, node: Node | str):
        node_name = node if isinstance(node, str) else node.name
        series = cloud.release(node_name, self.project)
        return cloud.venv(series) / "etc" / "nova" / "api-paste.ini"

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        # The paste ini must come first (field notes: else every worker fails with
        # "No section 'osapi_compute'"); it belongs to the code, so it comes from the venv.
        return {
            "OS_NOVA_CONFIG_DIR": str(self.config_dir(cloud, node)),
            "OS_NOVA_CONFIG_FILES": f"{self.paste_ini(cloud, node)};nova.conf;nova-db.conf",
        }

    def daemons(self, node: Node) -> list[str]:
        names = list(CONTROLLER_DAEMONS) if node.has("controller") else []
        return names + (["nova-compute"] if node.has("compute") else [])

    def config_args(self, cloud: Cloud, node: Node | str, db: bool = True) -> list[str]:
        args = ["--config-file", str(self.conf(cloud, node))]
        return args + (["--config-file", str(self.db_conf(cloud, node))] if db else [])

    def daemon_argv(self, cloud: Cloud, node: Node, name: str) -> list[str]:
        return [name, *self.config_args(cloud, node, db=name != "nova-compute")]

    def sync(self, cloud: Cloud) -> None:
        conf = self.config_args(cloud, cloud.scenario.controller)
        self.manage(cloud, ["nova-manage", *conf, "api_db", "sync"], "nova-manage api_db sync")
        cell0 = cloud.db_url("nova", "nova_cell0")
        self.manage(
            cloud,
            ["nova-manage", *conf, "cell_v2", "map_cell0", "--database_connection", cell0],
            "nova-manage cell_v2 map_cell0",
        )
        self.manage(
            cloud,
            ["nova-manage", *conf, "cell_v2", "create_cell", "--name", "cell1"],
            "nova-manage cell_v2 create_cell",
        )
        self.manage(cloud, ["nova-manage", *conf, "db", "sync"], "nova-manage db sync")

    def after_start(self, cloud: Cloud) -> None:
        """Map every compute host into cell1 so the scheduler can place servers on it."""
        expected = {n.name for n in cloud.scenario.with_role("compute")}
        timeout = cloud.scenario.services.startup_timeout
        wait.until(
            lambda: self._discovered(cloud) >= expected,
            timeout,
            f"compute hosts {sorted(expected)} mapped into cell1",
            interval=2.0,
        )

    def _discovered(self, cloud: Cloud) -> set[str]:
        node = cloud.scenario.controller
        conf = self.config_args(cloud, node)
        series = cloud.release(node.name, self.project)
        log = cloud.log_path(node, "nova-manage")
        env = cloud.service_env(series)
        argv = ["nova-manage", *conf, "cell_v2", "discover_hosts"]
        if process.run(argv, cloud.netns(node), env, log, timeout=120).returncode != 0:
            raise StepFailed(f"nova-manage cell_v2 discover_hosts failed; see {log}")
        argv = ["nova-manage", *conf, "cell_v2", "list_hosts"]
        out = log.with_name("nova-list-hosts.log")
        out.unlink(missing_ok=True)
        process.run(argv, cloud.netns(node), env, out, timeout=120)
        return {
            n.name for n in cloud.scenario.with_role("compute") if f" {n.name} " in out.read_text()
        }
