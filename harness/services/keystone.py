"""Keystone: identity API (Flask under uwsgi), fernet tokens, bootstrap."""

from __future__ import annotations

from harness.cloud import Cloud
from harness.scenario import Node
from harness.services.base import Api, Service, write_ini


class Keystone(Service):
    project = "keystone"
    databases = ("keystone",)
    api = Api("keystone-api", "identity", 5000, "/v3", "keystone.wsgi.api:application", "/v3")

    def conf(self, cloud: Cloud, node: Node | str):
        return self.config_dir(cloud, node) / "keystone.conf"

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

    def sync(self, cloud: Cloud) -> None:
        conf = ["--config-file", str(self.conf(cloud, cloud.scenario.controller))]
        owner = ["--keystone-user", "root", "--keystone-group", "root"]
        self.manage(cloud, ["keystone-manage", *conf, "db_sync"], "keystone-manage db_sync")
        self.manage(cloud, ["keystone-manage", *conf, "fernet_setup", *owner], "fernet_setup")
        self.manage(
            cloud, ["keystone-manage", *conf, "credential_setup", *owner], "credential_setup"
        )

    def bootstrap(self, cloud: Cloud) -> None:
        url = cloud.vip_url(5000, "/v3")
        argv = [
            "keystone-manage", "--config-file", str(self.conf(cloud, cloud.scenario.controller)),
            "bootstrap", "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
            "--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone",
            "--bootstrap-region-id", "RegionOne", "--bootstrap-admin-url", url,
            "--bootstrap-internal-url", url, "--bootstrap-public-url", url,
        ]  # fmt: skip
        # The password goes through the environment, never the command line.
        password = {"OS_BOOTSTRAP_PASSWORD": cloud.secrets.get("user-admin")}
        self.manage(cloud, argv, "keystone-manage bootstrap", env=password)


def register(cloud: Cloud, services) -> None:
    """The service project, one user per service (admin and service roles), and every
    API's catalog entry at the VIP: what devstack does after keystone comes up."""
    from harness import openstack_api

    conn = openstack_api.admin(cloud)
    ident = conn.identity
    project = ident.find_project("service", domain_id="default") or ident.create_project(
        name="service", domain_id="default", description="Service users"
    )
    roles = [
        ident.find_role("admin"),
        ident.find_role("service") or ident.create_role(name="service"),
    ]
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
