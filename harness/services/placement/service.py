"""Placement: the resource-provider API (under uwsgi).

Rolling upgrade: placement's schema changes are additive, so `db sync` with the new code
runs while the old APIs serve; then the APIs roll; then online data migrations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.scenario import Node
from harness.services.base import Action, Api, OnDevstack, Schema, Service, authtoken, write_ini
from harness.services.placement import resources as placement_resources

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud


class Placement(Service):
    project = "placement"
    resources = placement_resources
    databases = ("placement",)
    schemas = (Schema("placement", "placement_database.connection", "placement-manage db sync"),)
    api = Api("placement-api", "placement", 8778, "", "placement.wsgi.api:application")
    package = "openstack-placement"
    devstack = OnDevstack(
        {"placement-api": "placement-api"}, ("/etc/placement/placement.conf",), "/placement"
    )
    actions = {
        "sync": Action("placement-manage db sync"),
        "online-migrations": Action(
            "placement-manage db online_data_migrations", ok=(0, 1), repeat_while=1, max_runs=20
        ),
    }
    before_roll = ("sync",)
    after_roll = ("online-migrations",)

    conf_file = "placement.conf"

    def configure(self, cloud: Cloud, node: Node) -> None:
        write_ini(
            self.conf(cloud, node),
            {
                "DEFAULT": {"debug": False},
                "api": {"auth_strategy": "keystone"},
                "placement_database": {"connection": cloud.db_url("placement", "placement")},
                "keystone_authtoken": authtoken(cloud, "placement"),
            },
        )

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {"OS_PLACEMENT_CONFIG_DIR": str(self.config_dir(cloud, node))}

    def sync(self, cloud: Cloud, series: str) -> None:
        self.run_action(cloud, "sync", series)
