"""Neutron: a real neutron-server API (ML2, no agents) under uwsgi.

nova-api calls neutron on every server read, even for servers with no network, so a real
neutron API is part of the cloud; without agents nothing binds ports, which is fine for
servers booted with "networks": "none".
"""

from __future__ import annotations

from harness.cloud import Cloud
from harness.scenario import Node
from harness.services.base import Api, Service, authtoken, write_ini


class Neutron(Service):
    project = "neutron"
    databases = ("neutron",)
    api = Api("neutron-api", "network", 9696, "", "neutron.wsgi.api:application")

    def files(self, cloud: Cloud, node: Node | str):
        d = self.config_dir(cloud, node)
        return d / "neutron.conf", d / "ml2_conf.ini"

    def configure(self, cloud: Cloud, node: Node) -> None:
        series = cloud.release(node.name, self.project)
        neutron_conf, ml2_conf = self.files(cloud, node)
        write_ini(
            neutron_conf,
            {
                "DEFAULT": {
                    "debug": False,
                    "host": node.name,
                    "core_plugin": "ml2",
                    "service_plugins": "",
                    "auth_strategy": "keystone",
                    "transport_url": cloud.transport_url,
                    "notify_nova_on_port_status_changes": False,
                    "notify_nova_on_port_data_changes": False,
                    "api_paste_config": cloud.venv(series) / "etc" / "neutron" / "api-paste.ini",
                },
                "database": {"connection": cloud.db_url("neutron", "neutron")},
                "keystone_authtoken": authtoken(cloud, "neutron"),
                "oslo_concurrency": {"lock_path": self.config_dir(cloud, node) / "locks"},
                "oslo_messaging_notifications": {"driver": "noop"},
            },
        )
        write_ini(
            ml2_conf,
            {
                "ml2": {
                    "type_drivers": "local,flat,vlan",
                    "project_network_types": "local",
                    "mechanism_drivers": "",
                    "extension_drivers": "port_security",
                },
            },
        )

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {
            "OS_NEUTRON_CONFIG_DIR": str(self.config_dir(cloud, node)),
            "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini",
        }

    def sync(self, cloud: Cloud) -> None:
        neutron_conf, ml2_conf = self.files(cloud, cloud.scenario.controller)
        argv = [
            "neutron-db-manage", "--config-file", str(neutron_conf),
            "--config-file", str(ml2_conf), "upgrade", "heads",
        ]  # fmt: skip
        self.manage(cloud, argv, "neutron-db-manage upgrade heads")
