"""Keystone: identity API (Flask under uwsgi), fernet tokens, bootstrap.

Rolling upgrade (keystone's documented order): expand and migrate the database with the
new code while the old nodes serve, upgrade the nodes one at a time, contract once every
node runs the new code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.scenario import Node
from harness.services.base import Action, Api, OnDevstack, Schema, Service, write_ini
from harness.services.keystone import resources as keystone_resources

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud


class Keystone(Service):
    project = "keystone"
    resources = keystone_resources
    databases = ("keystone",)
    schemas = (Schema("keystone", "database.connection", "keystone-manage db_sync"),)
    api = Api("keystone-api", "identity", 5000, "/v3", "keystone.wsgi.api:application", "/v3")
    devstack = OnDevstack(
        {"keystone-api": "keystone"}, ("/etc/keystone/keystone.conf",), "/identity"
    )
    actions = {
        "expand": Action("keystone-manage db_sync --expand"),
        "migrate": Action("keystone-manage db_sync --migrate"),
        "contract": Action("keystone-manage db_sync --contract"),
    }
    before_roll = ("expand", "migrate")
    after_roll = ("contract",)

    conf_file = "keystone.conf"

    def configure(self, cloud: Cloud, node: Node) -> None:
        write_ini(
            self.conf(cloud, node),
            {
                "DEFAULT": {"debug": False},
                "database": {"connection": cloud.db_url("keystone", "keystone")},
                "token": {"provider": "fernet"},
                # One key repository for every node: what a real cloud syncs between nodes.
                "fernet_tokens": {"key_repository": cloud.shared_dir("keystone-fernet-keys")},
                "credential": {"key_repository": cloud.shared_dir("keystone-credential-keys")},
            },
        )

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {
            "OS_KEYSTONE_CONFIG_DIR": str(self.config_dir(cloud, node)),
            "OS_KEYSTONE_CONFIG_FILES": "keystone.conf",
        }

    def sync(self, cloud: Cloud, series: str) -> None:
        conf = self.config_args(cloud, cloud.scenario.controller)
        owner = ["--keystone-user", "root", "--keystone-group", "root"]
        for args in (["db_sync"], ["fernet_setup", *owner], ["credential_setup", *owner]):
            self.manage(
                cloud, series, ["keystone-manage", *conf, *args], f"keystone-manage {args[0]}"
            )

    def bootstrap(self, cloud: Cloud) -> None:
        url = cloud.vip_url(5000, "/v3")
        argv = [
            "keystone-manage", *self.config_args(cloud, cloud.scenario.controller),
            "bootstrap", "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
            "--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone",
            "--bootstrap-region-id", "RegionOne", "--bootstrap-admin-url", url,
            "--bootstrap-internal-url", url, "--bootstrap-public-url", url,
        ]  # fmt: skip
        # The password goes through the environment, never the command line.
        password = {"OS_BOOTSTRAP_PASSWORD": cloud.secrets.get("user-admin")}
        series = cloud.scenario.release_from
        self.manage(cloud, series, argv, "keystone-manage bootstrap", env=password)


def register(cloud: Cloud, services) -> None:
    """The service project, one user per service (admin and service roles), and every
    API's catalog entry at the VIP: what devstack does after keystone comes up."""
    from harness.backends import openstack_api

    conn = openstack_api.admin(cloud)
    ident = conn.identity
    project = ident.find_project("service", domain_id="default") or ident.create_project(
        name="service", domain_id="default", description="Service users"
    )
    service_role = ident.find_role("service") or ident.create_role(name="service")
    roles = [ident.find_role("admin"), service_role]
    for svc in services:
        if svc.api is None or svc.api.service_type == "identity":
            continue
        user = ident.create_user(
            name=svc.project,
            password=cloud.secrets.get(f"user-{svc.project}"),
            domain_id="default",
            default_project_id=project.id,
        )
        for role in roles:
            ident.assign_project_role_to_user(project, user, role)
        entry = ident.create_service(name=svc.project, type=svc.api.service_type)
        url = cloud.vip_url(svc.api.port, svc.api.path)
        for interface in ("public", "internal"):
            ident.create_endpoint(
                service_id=entry.id, interface=interface, url=url, region_id="RegionOne"
            )
