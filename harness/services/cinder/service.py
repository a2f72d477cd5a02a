"""Cinder: cinder-api under uwsgi on every API node; cinder-scheduler, cinder-volume and
cinder-backup on the controller.

The volume driver is cinder's own in-tree fake (cinder.tests.fake_driver, what devstack's
`fake` backend and cinder's functional tests run): this machine's kernel has no
device-mapper, no SCSI target and no iSCSI initiator, so LVM cannot work (README: stand-ins;
docs/cinder-research.md). Volumes, attachments and their RPC are cinder's real code paths;
only the data path is absent. Backups go to the posix driver in the controller's state
folder.

Rolling upgrade (cinder's admin guide, "Upgrades"): N's online data migrations finished
before N+1's schema sync; the sync with the new code while the old services run; then
cinder-scheduler, cinder-volume and cinder-backup restarted on the new code; then each
cinder-api drained and handed over like every API; then the services that cached an older
RPC version cap reset it (SIGHUP or a restart; cinder-api, restarted last, caches none);
then the new release's online data migrations until nothing is left, and the upgrade check.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from harness import wait
from harness.scenario import Node
from harness.services import reporting
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
from harness.services.cinder import resources as cinder_resources

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud

# The controller's daemons in cinder's upgrade order.
DAEMONS = ("cinder-scheduler", "cinder-volume", "cinder-backup")
# …and the order they start in as the cloud comes up. The scheduler places a volume only on
# a backend whose capabilities it has heard: cinder-volume publishes them as it starts and
# then every backend_stats_polling_interval (60 s, after a random first delay of up to 60 s),
# and a starting scheduler asks for them. Started together, the volume's publish came before
# the scheduler consumed and the scheduler's request before the volume did: both lost, and
# a volume created 62 s later went to error, "Filtering removed all hosts" (a CI run).
# So cinder-volume starts first and the scheduler once the volume consumes its fanout.
START_ORDER = ("cinder-volume", "cinder-scheduler", "cinder-backup")
BACKEND = "fake"  # the volume backend's section name: cinder-volume reports as <host>@fake
FAKE_DRIVER = "cinder.tests.fake_driver.FakeLoggingVolumeDriver"


class Cinder(Service):
    project = "cinder"
    resources = cinder_resources
    databases = ("cinder",)
    schemas = (Schema("cinder", "database.connection", "cinder-manage db sync"),)
    api = Api("cinder-api", "block-storage", 8776, "/v3", "cinder.wsgi.api:application")
    devstack = OnDevstack(
        {"cinder-api": "c-api", "cinder-scheduler": "c-sch", "cinder-volume": "c-vol",
         "cinder-backup": "c-bak"},
        # devstack runs c-api on the controller only (devstack/local.conf.controller)
        ("/etc/cinder/cinder.conf",), "/volume",
    )  # fmt: skip
    packaged_files = {
        "etc/cinder/api-paste.ini": "api-paste.ini",
        # which filters a volume list takes: without it every list logs an ERROR
        "etc/cinder/resource_filters.json": "resource_filters.json",
    }
    conf_file = "cinder.conf"
    actions = {
        "db-sync": Action("cinder-manage db sync"),
        # 0: nothing left; 1: some ran, run again; 2: some failed (cinder/cmd/manage.py).
        "online-migrations": Action(
            "cinder-manage db online_data_migrations", ok=(0, 1), repeat_while=1, max_runs=20
        ),
        # 0 success, 1 warning; 2 and up fail. Its Service UUIDs check fails on any volume
        # without a service, as one the API just accepted is (cinder/cmd/status.py).
        "upgrade-check": Action(
            "cinder-status upgrade check",
            ok=(0, 1),
            max_runs=4,
            in_flight=2,
            in_flight_finding="its Service UUIDs check fails while a volume is being "
            "created (no service_uuid until a cinder-volume takes it): under load the "
            "check fails though no migration is missing",
        ),
    }

    # Each process caps what it sends to each binary at the lowest RPC version that binary's
    # rows in the services table record (cinder/rpc.py, logged at INFO when it chooses,
    # again after a reset: "Resetting cached RPC version pins.").
    pins = Pins(
        selected=r"Automatically selected (?P<peer>cinder-[a-z]+) RPC version (?P<rpc>[\d.]+) "
        r"as minimum service version",
        facts="import json; from cinder.volume import rpcapi as v; "
        "from cinder.scheduler import rpcapi as s; from cinder.backup import rpcapi as b; "
        "print(json.dumps({'accepts': {'cinder-volume': v.VolumeAPI.RPC_API_VERSION, "
        "'cinder-scheduler': s.SchedulerAPI.RPC_API_VERSION, "
        "'cinder-backup': b.BackupAPI.RPC_API_VERSION}}))",
    )

    def roll(self, p) -> list:
        controller = p.scenario.controller.name
        # "you won't be able to apply N+1's schema migrations before completing N's
        # online data migrations": the base release's, with the base release's code.
        steps = [p.manage("online-migrations", p.scenario.release_from), p.manage("db-sync")]
        steps += [p.restart(controller, name) for name in DAEMONS]
        steps += p.api_roll(self.api.name)
        # Each daemon chose its caps from its peers' rows as it started, before the later
        # ones (and its own row) were new; cinder-api, rolled last, saw them all new.
        stale = DAEMONS if p.scenario.plan.reset_caps else ()
        for name in stale:
            if p.scenario.plan.cap_reset == "sighup":  # cinder's guide: SIGHUP the daemons
                steps.append(p.signal(controller, name))
            else:
                steps.append(p.restart(controller, name, "drop its cached RPC version caps"))
        return steps + [p.manage("online-migrations"), p.manage("upgrade-check")]

    # the scheduler's request for capabilities is a fanout (oslo.messaging's queue for it:
    # <topic>_fanout_<uuid>)
    ready_queues = {"cinder-volume": "cinder-volume_fanout_*"}

    def runs_on(self, node: Node) -> bool:
        return node.serves(self.api.name) or node.has("controller")

    def daemons(self, node: Node) -> list[str]:
        return list(START_ORDER) if node.has("controller") else []

    def daemon_argv(self, cloud: Cloud, node: Node, name: str) -> list[str]:
        return [name, *self.config_args(cloud, node)]

    def uwsgi_options(self, cloud: Cloud, node: Node, series: str) -> dict[str, object]:
        # cinder's WSGI app parses sys.argv for its config (no OS_CINDER_CONFIG_* as nova
        # and neutron have): uwsgi's pyargv sets it.
        # A second thread, as nova-api's (nova/service.py): an attachment update waits in
        # cinder-api on an RPC call to cinder-volume for as long as that one restarts.
        # (cinder's WSGI app imports eventlet but patches nothing: native threads.)
        return {"pyargv": f"--config-file {self.conf(cloud, node)}", "threads": 2}

    def configure(self, cloud: Cloud, node: Node) -> None:
        base = self.config_dir(cloud, node)
        state = base / "state"
        (state / "backups").mkdir(parents=True, exist_ok=True)
        creds = cloud.service_credentials("cinder")
        write_ini(
            self.conf(cloud, node),
            {
                "DEFAULT": {
                    "debug": False,
                    # Every node its own host: the namespaces share one hostname, and
                    # service rows (and a volume's home, host@backend) are per host.
                    "host": node.name,
                    "my_ip": node.address,
                    "transport_url": cloud.transport_url,
                    "auth_strategy": "keystone",
                    "api_paste_config": base / "api-paste.ini",
                    "resource_query_filters_file": base / "resource_filters.json",
                    "state_path": state,  # volumes_dir, the file coordination backend
                    "enabled_backends": BACKEND,  # cinder-volume exits without one
                    "backup_driver": "cinder.backup.drivers.posix.PosixBackupDriver",
                    "backup_posix_path": state / "backups",
                    "graceful_shutdown_timeout": cloud.scenario.services.graceful_shutdown_timeout,
                },
                BACKEND: {
                    "volume_driver": FAKE_DRIVER,
                    "volume_backend_name": BACKEND,
                    "target_helper": "fake",
                },
                "database": {"connection": cloud.db_url("cinder", "cinder")},
                "keystone_authtoken": authtoken(cloud, "cinder"),
                "nova": creds,  # volume-extended events and assisted snapshots
                "service_user": {"send_service_user_token": True, **creds},
                "oslo_concurrency": {"lock_path": base / "locks"},
                "os_brick": {"lock_path": base / "locks"},
                "oslo_messaging_notifications": {"driver": "noop"},
            },
        )

    def sync(self, cloud: Cloud, series: str) -> None:
        argv = ["cinder-manage", *self.config_args(cloud, cloud.scenario.controller)]
        self.manage(cloud, series, [*argv, "db", "sync"], "cinder-manage db sync")

    def after_start(self, cloud: Cloud) -> None:
        """Volumes can be placed once the scheduler and the volume service report up and
        the scheduler lists the backend's pool (it has the backend's capabilities)."""
        from harness.backends import openstack_api  # openstacksdk: only when a cloud comes up

        conn = openstack_api.admin(cloud)
        controller = cloud.scenario.controller.name
        timeout = cloud.scenario.services.startup_timeout
        for name in DAEMONS:
            self.wait_ready(conn, controller, name, datetime.datetime.min, timeout)
        wait_pool_known(conn, f"{controller}@{BACKEND}", timeout)

    def wait_ready(self, conn, host, process, since, timeout, alive=None) -> None:
        if process not in DAEMONS:
            return

        def services(binary: str, host: str):
            return conn.block_storage.services(binary=binary, host=host)

        # cinder-volume's row is per backend: <host>@<backend>
        row_host = f"{host}@{BACKEND}" if process == "cinder-volume" else host
        reporting.wait_reported(services, row_host, process, since, timeout, alive)


def wait_pool_known(conn, backend: str, timeout: float) -> None:
    """Return once cinder-scheduler lists a pool of `backend` (host@backend#pool): until
    then it places no volume there ("No valid backend")."""

    def known() -> bool:
        return any(p.name.startswith(f"{backend}#") for p in conn.block_storage.backend_pools())

    wait.until(known, timeout, f"cinder-scheduler knowing the pools of {backend}", interval=1.0)
