"""Talking to the cloud as an operator would: openstacksdk, through the VIP."""

from __future__ import annotations

import openstack

from harness.cloud import Cloud


def admin(cloud: Cloud) -> openstack.connection.Connection:
    return openstack.connection.Connection(
        auth_url=cloud.auth_url,
        username="admin",
        password=cloud.secrets.get("user-admin"),
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
        identity_api_version="3",
        interface="public",
    )
