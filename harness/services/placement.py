"""Placement: the resource-provider API (under uwsgi)."""

from __future__ import annotations

from harness.cloud import Cloud
from harness.scenario import Node
from harness.services.base import Api, Service, authtoken, write_ini


class Placement(Service):
    project = "placement"
    databases = ("placement",)
    api = Api("placement-api", "placement", 8778, "", "placement.wsgi.api:application")

    def conf(self, cloud: Cloud, node: Node | str):
        return self.config_dir(cloud, node) / "placement.conf"

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

    def sync(self, cloud: Cloud) -> None:
        conf = str(self.conf(cloud, cloud.scenario.controller))
        self.manage(
            cloud, ["placement-manage", "--config-file", conf, "db", "sync"], "placement db sync"
        )
