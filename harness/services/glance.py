"""Glance: the image API (under uwsgi) with a file store every node shares."""

from __future__ import annotations

from harness.cloud import Cloud
from harness.scenario import Node
from harness.services.base import Api, Service, authtoken, write_ini


class Glance(Service):
    project = "glance"
    databases = ("glance",)
    api = Api("glance-api", "image", 9292, "", "glance.wsgi.api:application")

    def conf(self, cloud: Cloud, node: Node | str):
        return self.config_dir(cloud, node) / "glance-api.conf"

    def configure(self, cloud: Cloud, node: Node) -> None:
        series = cloud.release(node.name, self.project)
        paste = cloud.venv(series) / "etc" / "glance" / "glance-api-paste.ini"
        write_ini(
            self.conf(cloud, node),
            {
                "DEFAULT": {
                    "debug": False,
                    "enabled_backends": "fs:file",
                    "worker_self_reference_url": f"http://{node.address}:{self.api.port}",
                },
                "database": {"connection": cloud.db_url("glance", "glance")},
                "keystone_authtoken": authtoken(cloud, "glance"),
                "paste_deploy": {"flavor": "keystone", "config_file": paste},
                "glance_store": {"default_backend": "fs"},
                # Shared by both nodes, as an NFS export would be in a real cloud.
                "fs": {"filesystem_store_datadir": cloud.shared_dir("glance-images")},
                "os_glance_staging_store": {
                    "filesystem_store_datadir": cloud.shared_dir("glance-staging")
                },
                "os_glance_tasks_store": {
                    "filesystem_store_datadir": cloud.shared_dir("glance-tasks")
                },
                "oslo_concurrency": {"lock_path": self.config_dir(cloud, node) / "locks"},
            },
        )

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {"OS_GLANCE_CONFIG_DIR": str(self.config_dir(cloud, node))}

    def sync(self, cloud: Cloud) -> None:
        conf = str(self.conf(cloud, cloud.scenario.controller))
        self.manage(
            cloud, ["glance-manage", "--config-file", conf, "db_sync"], "glance-manage db_sync"
        )
