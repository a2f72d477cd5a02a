"""tempest.conf from the cloud's access facts: where keystone is, the admin's credentials,
an image and a flavor, which services exist.

The file holds the admin password, so it is written to the cloud's state dir (mode 600),
never to the run folder. Tempest makes its own project and user per test class (dynamic
credentials) as admin, so nothing it creates collides with the load's or the resources'.
"""

from __future__ import annotations

import configparser
import io
import os
from pathlib import Path

from harness.backends import CloudView
from harness.services import ORDER

# The [service_available] switches tempest has for services it tests; any other is off.
SWITCHES = ("nova", "glance", "neutron", "cinder", "swift", "heat", "horizon", "designate")
BUILD_TIMEOUT = 120  # s a server, image or port may take to settle, as the load's bound


def render(cloud: CloudView, image: str, flavor: str, log_file: Path) -> str:
    present = {s.project for s in ORDER}
    conf = configparser.ConfigParser(interpolation=None)
    # Absolute: tempest runs in its work dir, where a relative run folder is not.
    conf["DEFAULT"] = {"log_file": str(log_file.absolute()), "use_stderr": "false"}
    conf["auth"] = {
        "use_dynamic_credentials": "true",
        "admin_username": "admin",
        "admin_password": cloud.secrets.get("user-admin"),
        "admin_project_name": "admin",
        "admin_domain_name": "Default",
        # Servers boot with no network: neutron runs without agents, so a port on a
        # tenant network would never bind (the fake virt driver plugs nothing anyway).
        "create_isolated_networks": "false",
    }
    conf["identity"] = {"uri_v3": _v3(cloud.auth_url), "auth_version": "v3",
                        "region": "RegionOne", "v3_endpoint_type": "public"}  # fmt: skip
    conf["identity-feature-enabled"] = {"api_v2": "false"}
    conf["service_available"] = {name: str(name in present).lower() for name in SWITCHES}
    conf["compute"] = {"image_ref": image, "image_ref_alt": image, "flavor_ref": flavor,
                       "flavor_ref_alt": flavor, "build_timeout": str(BUILD_TIMEOUT)}  # fmt: skip
    conf["image"] = {"build_timeout": str(BUILD_TIMEOUT)}
    conf["network"] = {"build_timeout": str(BUILD_TIMEOUT), "project_networks_reachable": "false"}
    conf["validation"] = {"run_validation": "false"}
    out = io.StringIO()
    conf.write(out)
    return out.getvalue()


def _v3(auth_url: str) -> str:
    url = auth_url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def write(cloud: CloudView, image: str, flavor: str, log_file: Path) -> Path:
    path = Path(cloud.state_dir) / "tempest" / "tempest.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render(cloud, image, flavor, log_file))
    return path
