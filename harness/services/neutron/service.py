"""Neutron: a real neutron-server API (ML2, no agents) under uwsgi.

nova-api calls neutron on every server read, even for servers with no network, so a real
neutron API is part of the cloud; without agents nothing binds ports, which is fine for
servers booted with "networks": "none".

Rolling upgrade: the expand branch is additive and runs while old servers serve; the
contract branch is not safe while any neutron-server runs, so it is applied only when
`has_offline_migrations` says nothing needs an offline window — otherwise that is recorded
as a finding (a rolling upgrade of this pair would need a neutron-server outage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.scenario import Node
from harness.services.base import Action, Api, OnDevstack, Schema, Service, authtoken, write_ini
from harness.services.neutron import resources as neutron_resources

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud


class Neutron(Service):
    project = "neutron"
    resources = neutron_resources
    databases = ("neutron",)
    schemas = (Schema("neutron", "database.connection", "neutron-db-manage upgrade heads"),)
    api = Api("neutron-api", "network", 9696, "", "neutron.wsgi.api:application")
    devstack = OnDevstack(
        {"neutron-api": "neutron-api"}, ("/etc/neutron/neutron.conf",), "/networking"
    )
    packaged_files = {"etc/neutron/api-paste.ini": "api-paste.ini"}
    actions = {
        "expand": Action("neutron-db-manage upgrade --expand"),
        "contract": Action(
            "neutron-db-manage upgrade --contract",
            guard="neutron-db-manage has_offline_migrations",
            guard_finding="contract migrations need every neutron-server stopped: not applied",
        ),
    }
    before_roll = ("expand",)
    after_roll = ("contract",)

    def files(self, cloud: Cloud, node: Node | str):
        d = self.config_dir(cloud, node)
        return d / "neutron.conf", d / "ml2_conf.ini"

    def conf(self, cloud: Cloud, node: Node | str):
        return self.files(cloud, node)[0]

    def config_args(self, cloud: Cloud, node: Node | str) -> list[str]:
        neutron_conf, ml2_conf = self.files(cloud, node)
        return ["--config-file", str(neutron_conf), "--config-file", str(ml2_conf)]

    def configure(self, cloud: Cloud, node: Node) -> None:
        neutron_conf, ml2_conf = self.files(cloud, node)
        write_ini(
            neutron_conf,
            {
                "DEFAULT": {
                    "debug": False,
                    "host": node.name,
                    "core_plugin": "ml2",
                    # The default extension auto-allocated-topology needs the L3 router
                    # plugin: without it each neutron-server logs an ERROR as it starts.
                    "service_plugins": "router",
                    "auth_strategy": "keystone",
                    "transport_url": cloud.transport_url,
                    "notify_nova_on_port_status_changes": False,
                    "notify_nova_on_port_data_changes": False,
                    "api_paste_config": self.config_dir(cloud, node) / "api-paste.ini",
                },
                "database": {"connection": cloud.db_url("neutron", "neutron")},
                "keystone_authtoken": authtoken(cloud, "neutron"),
                "oslo_concurrency": {"lock_path": self.config_dir(cloud, node) / "locks"},
                "oslo_messaging_notifications": {"driver": "noop"},
                # The segments notifier asks placement about a network's segments as the
                # network goes; with no credentials here each ask died in its thread with
                # MissingAuthPlugin (8 to 36 tracebacks per neutron-api log). devstack
                # configures this section too (lib/neutron: configure_keystoneauth).
                "placement": cloud.service_credentials("neutron"),
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

    def sync(self, cloud: Cloud, series: str) -> None:
        argv = ["neutron-db-manage", *self.config_args(cloud, cloud.scenario.controller)]
        self.manage(cloud, series, [*argv, "upgrade", "heads"], "neutron-db-manage upgrade heads")
