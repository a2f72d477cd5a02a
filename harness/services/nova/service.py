"""Nova: API on every API node, conductor and scheduler on the controller, a compute
(fake driver) on every compute node.

Rolling upgrade (nova's documented order): DB syncs with the new code while the old
services run; pin compute RPC to `auto`; restart conductor, then scheduler, on the new
code; roll the computes one node at a time with a graceful stop; roll the APIs; SIGHUP the
services so they drop the cached RPC version cap; online data migrations until nothing is
left; `nova-status upgrade check`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness import process, wait
from harness.errors import StepFailed
from harness.releases import catalog
from harness.scenario import Node
from harness.services.base import (
    Action,
    Api,
    OnDevstack,
    Pins,
    Schema,
    Service,
    authtoken,
    write_ini,
)
from harness.services.nova import computes as nova_services
from harness.services.nova import resources as nova_resources

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud

CONTROLLER_DAEMONS = ("nova-conductor", "nova-scheduler")
# The fake driver, plus a guest's port on the node's OVS where neutron's agents run
# (stand_in/ovs_plugging.py): nova imports drivers from nova.virt alone, which
# stand_in/sitecustomize.py extends for the computes started with it on PYTHONPATH.
STAND_IN = Path(__file__).with_name("stand_in")
FAKE, PLUGGING = "fake.FakeDriverWithoutFakeNodes", "ovs_plugging.PluggingFakeDriver"
NATIVE_THREADS_API = "2026.1"  # the first series whose API runs without eventlet (33.0.0)


class Nova(Service):
    project = "nova"
    resources = nova_resources
    databases = ("nova_api", "nova", "nova_cell0")
    schemas = (
        Schema("nova_api", "api_database.connection", "nova-manage api_db sync"),
        Schema("nova", "database.connection", "nova-manage db sync --local_cell"),
        Schema("nova_cell0", like="nova"),  # a cell database, created by the same sync
    )
    api = Api("nova-api", "compute", 8774, "/v2.1", "nova.wsgi.osapi_compute:application")
    devstack = OnDevstack(
        {"nova-api": "n-api", "nova-conductor": "n-cond",  # singleconductor (local.conf)
         "nova-scheduler": "n-sch", "nova-compute": "n-cpu"},
        # devstack gives nova-compute a file of its own: a pin must reach it too
        ("/etc/nova/nova.conf", "/etc/nova/nova-cpu.conf"), "/compute", fronted=True,
        databases={"nova": "nova_cell1"},  # singleconductor: nova.conf's cell is cell1
    )  # fmt: skip
    packaged_files = {"etc/nova/api-paste.ini": "api-paste.ini"}
    actions = {
        "api-db-sync": Action("nova-manage api_db sync"),
        "db-sync": Action("nova-manage db sync"),
        "online-migrations": Action(
            "nova-manage db online_data_migrations", ok=(0, 1), repeat_while=1, max_runs=20
        ),
        # 0 success, 1 warning (e.g. hw_machine_type without libvirt); 2 and up fail.
        "upgrade-check": Action("nova-status upgrade check", ok=(0, 1)),
    }
    # The pin that lets old and new computes talk while both run.
    rpc_pin = ("upgrade_levels", "compute", "auto")
    # What [upgrade_levels] compute = auto makes every process choose (nova/compute/rpcapi.py,
    # logged at INFO once per process, at its first compute RPC, and again after a reset).
    pins = Pins(
        peer="nova-compute",
        selected=r"Automatically selected compute RPC version (?P<rpc>[\d.]+) from minimum "
        r"service version (?P<service>\d+)",
        facts="import json; from nova.objects import service as s; print(json.dumps("
        "{'service_version': s.SERVICE_VERSION, 'peer_rpc': {str(v): h['compute_rpc'] "
        "for v, h in enumerate(s.SERVICE_VERSION_HISTORY)}}))",
    )

    def roll(self, p) -> list:
        controller = p.scenario.controller.name
        computes = p.ordered("compute")
        section, key, value = self.rpc_pin
        steps = [p.manage("api-db-sync"), p.manage("db-sync")]
        steps += [p.set_option(n, section, key, value) for n in p.ordered() if n]
        steps += [p.restart(controller, name) for name in CONTROLLER_DAEMONS]
        for n in computes:
            steps += p.compute_restart(n)
        steps += p.api_roll(self.api.name)
        # Services started while older computes ran cached an older RPC version cap:
        # conductor, scheduler, and every compute but the last one rolled.
        stale = [(controller, name) for name in CONTROLLER_DAEMONS]
        stale += [(n, "nova-compute") for n in computes[:-1]]
        if not p.scenario.plan.reset_caps:  # deliberately wrong (plan/wrong.py)
            stale = []
        for node, name in stale:
            why = "drop its cached RPC version cap"
            if p.scenario.plan.cap_reset == "sighup":
                steps.append(p.signal(node, name))
            elif name == "nova-compute":
                steps += p.compute_restart(node, why)
            else:
                steps.append(p.restart(node, name, why))
        return steps + [p.manage("online-migrations"), p.manage("upgrade-check")]

    def db_conf(self, cloud: Cloud, node: Node | str):
        return self.config_dir(cloud, node) / "nova-db.conf"

    def paste_ini(self, cloud: Cloud, node: Node | str):
        return self.config_dir(cloud, node) / "api-paste.ini"

    def runs_on(self, node: Node) -> bool:
        return node.serves(self.api.name) or node.has("compute") or node.has("controller")

    conf_file = "nova.conf"

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
                    "compute_driver": PLUGGING if node.has("network") else FAKE,
                    # The fake driver keeps guests in memory only: after a compute restart
                    # the power-state sync (run at start) would find every guest gone and
                    # zero its power state. A stand-in artifact, not an upgrade effect.
                    "sync_power_state_interval": -1,
                    "state_path": base / "state",
                    # The stop contract the harness waits out (scenario.ServiceOptions).
                    "graceful_shutdown_timeout": cloud.scenario.services.graceful_shutdown_timeout,
                },
                "api": {"auth_strategy": "keystone"},
                "keystone_authtoken": authtoken(cloud, "nova"),
                "service_user": {"send_service_user_token": True, **creds},
                "placement": creds,
                "neutron": creds,
                "glance": {"region_name": "RegionOne"},
                # volume attach: nova-api and nova-compute call cinder through the VIP
                "cinder": {**creds, "os_region_name": "RegionOne"},
                "scheduler": {"discover_hosts_in_cells_interval": 5, "workers": 1},
                "conductor": {"workers": 1},
                "oslo_concurrency": {"lock_path": base / "locks"},
                "oslo_messaging_notifications": {"driver": "noop"},
                "vnc": {"enabled": False},
                "wsgi": {"api_paste_config": self.paste_ini(cloud, node)},
            },
        )

    def uwsgi_options(self, cloud: Cloud, node: Node, series: str) -> dict[str, object]:
        # A volume attach waits in nova-api on an RPC call to the server's compute
        # (reserve_block_device_name) for as long as that compute restarts: 29 s seen. With
        # one worker of one thread nothing else was answered meanwhile, HAProxy's check
        # timed out and took the backend out — an outage of the harness's sizing, not
        # nova's (a deployment runs several). A second thread answers the rest, where
        # nova's API runs native threads (from 2026.1: its WSGI module asks for them).
        # Before, nova.api.openstack patches eventlet in, and a worker with a second
        # thread segfaulted in greenlet at its stop (2025.2, measured): a second process.
        if catalog.precedes(series, NATIVE_THREADS_API):
            return {"processes": max(2, cloud.scenario.services.api_workers)}
        return {"threads": 2}

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        # The paste ini must come first (field notes: else every worker fails with
        # "No section 'osapi_compute'").
        return {
            "OS_NOVA_CONFIG_DIR": str(self.config_dir(cloud, node)),
            "OS_NOVA_CONFIG_FILES": "api-paste.ini;nova.conf;nova-db.conf",
        }

    def wait_ready(self, conn, host, process, since, timeout, alive=None) -> None:
        if process in (*CONTROLLER_DAEMONS, "nova-compute"):  # they report to nova's table
            nova_services.wait_up(conn, host, process, since, timeout, alive=alive)

    def daemons(self, node: Node) -> list[str]:
        names = list(CONTROLLER_DAEMONS) if node.has("controller") else []
        return names + (["nova-compute"] if node.has("compute") else [])

    def config_args(self, cloud: Cloud, node: Node | str, db: bool = True) -> list[str]:
        args = ["--config-file", str(self.conf(cloud, node))]
        return args + (["--config-file", str(self.db_conf(cloud, node))] if db else [])

    def daemon_argv(self, cloud: Cloud, node: Node, name: str) -> list[str]:
        return [name, *self.config_args(cloud, node, db=name != "nova-compute")]

    def daemon_env(self, cloud: Cloud, node: Node, name: str) -> dict[str, str]:
        if name != "nova-compute" or not node.has("network"):
            return {}
        from harness.backends.embedded.infra import ovs  # the embedded cloud's own switch

        return {"PYTHONPATH": str(STAND_IN), **ovs.env(cloud, node)}

    def sync(self, cloud: Cloud, series: str) -> None:
        conf = self.config_args(cloud, cloud.scenario.controller)
        cell0 = cloud.db_url("nova", "nova_cell0")
        for args in (
            ["api_db", "sync"],
            ["cell_v2", "map_cell0", "--database_connection", cell0],
            ["cell_v2", "create_cell", "--name", "cell1"],
            ["db", "sync"],
        ):
            self.manage(
                cloud, series, ["nova-manage", *conf, *args], f"nova-manage {args[0]} {args[1]}"
            )

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
        env = cloud.service_env(cloud.release(node.name, "nova-conductor"))
        log = cloud.log_path(node, "nova-manage")
        argv = ["nova-manage", *conf, "cell_v2", "discover_hosts"]
        if process.run(argv, cloud.netns(node), env, log, timeout=120).returncode != 0:
            raise StepFailed(f"nova-manage cell_v2 discover_hosts failed; see {log}")
        out = log.with_name("nova-list-hosts.log")
        out.unlink(missing_ok=True)
        argv = ["nova-manage", *conf, "cell_v2", "list_hosts"]
        process.run(argv, cloud.netns(node), env, out, timeout=120)
        hosts = out.read_text()
        return {n.name for n in cloud.scenario.with_role("compute") if f" {n.name} " in hosts}
