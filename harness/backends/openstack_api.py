"""Talking to the cloud as an operator would: openstacksdk, through the VIP."""

from __future__ import annotations

import os
from pathlib import Path

import openstack
import yaml

from harness.backends import CloudView

CLOUD_NAME = "upgrade-harness"
CLOUDS_YAML = "clouds.yaml"  # in the state dir, for a cloud left up


def _admin_auth(cloud: CloudView) -> dict:
    return {
        "auth_url": cloud.auth_url,
        "username": "admin",
        "password": cloud.secrets.get("user-admin"),
        "project_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }


def admin(cloud: CloudView) -> openstack.connection.Connection:
    return openstack.connection.Connection(
        **_admin_auth(cloud),
        region_name="RegionOne",
        identity_api_version="3",
        interface="public",
    )


def write_clouds_yaml(cloud: CloudView) -> str:
    """A clouds.yaml (mode 600: it holds the admin password) for a cloud left up, so the
    `openstack` client reaches it; returns the shell line that points the client at it."""
    entry = {"auth": _admin_auth(cloud), "region_name": "RegionOne",
             "identity_api_version": "3", "interface": "public"}  # fmt: skip
    path = Path(cloud.state_dir) / CLOUDS_YAML
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({"clouds": {CLOUD_NAME: entry}}, f, sort_keys=False)
    return f"export OS_CLIENT_CONFIG_FILE={path} OS_CLOUD={CLOUD_NAME}"
