"""Glance: the image API (under uwsgi) with a file store every node shares.

Rolling upgrade (glance's zero-downtime database upgrade): expand and migrate with the new
code while the old APIs serve, roll the APIs one node at a time, contract at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.scenario import Node
from harness.services.base import Action, Api, OnDevstack, Schema, Service, authtoken, write_ini
from harness.services.glance import resources as glance_resources

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud


class Glance(Service):
    project = "glance"
    resources = glance_resources
    databases = ("glance",)
    schemas = (Schema("glance", "database.connection", "glance-manage db_sync"),)
    api = Api("glance-api", "image", 9292, "", "glance.wsgi.api:application")
    devstack = OnDevstack({"glance-api": "g-api"}, ("/etc/glance/glance-api.conf",), "/image")
    packaged_files = {"etc/glance/glance-api-paste.ini": "glance-api-paste.ini"}
    actions = {
        "expand": Action("glance-manage db expand"),
        "migrate": Action("glance-manage db migrate"),
        "contract": Action("glance-manage db contract"),
    }
    before_roll = ("expand", "migrate")
    after_roll = ("contract",)

    conf_file = "glance-api.conf"

    def configure(self, cloud: Cloud, node: Node) -> None:
        d = self.config_dir(cloud, node)
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
                "paste_deploy": {"flavor": "keystone", "config_file": d / "glance-api-paste.ini"},
                "glance_store": {"default_backend": "fs"},
                # Shared by both nodes, as an NFS export would be in a real cloud.
                "fs": {"filesystem_store_datadir": cloud.shared_dir("glance-images")},
                "os_glance_staging_store": {
                    "filesystem_store_datadir": cloud.shared_dir("glance-staging")
                },
                "os_glance_tasks_store": {
                    "filesystem_store_datadir": cloud.shared_dir("glance-tasks")
                },
                "oslo_concurrency": {"lock_path": d / "locks"},
            },
        )

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {"OS_GLANCE_CONFIG_DIR": str(self.config_dir(cloud, node))}

    def sync(self, cloud: Cloud, series: str) -> None:
        conf = self.config_args(cloud, cloud.scenario.controller)
        self.manage(cloud, series, ["glance-manage", *conf, "db_sync"], "glance-manage db_sync")
