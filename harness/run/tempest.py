"""Tempest for a run: the embedded cloud's from the harness's own venv with a config from
the cloud's facts; devstack nodes' own (devstack installed and configured it on the
controller), run there over SSH, its subunit stream coming back on stdout."""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from harness.backends import CloudView, openstack_api
from harness.services.nova import smoke
from harness.tempest import config, install, ledger
from harness.tempest.control import Command, Tempest, local

DEVSTACK_TEMPEST = "/opt/stack/tempest"  # devstack's checkout, its etc/tempest.conf and venv


def open_runner(target, cloud: CloudView, run_dir: Path, cache_dir: Path) -> Tempest | None:
    options = cloud.scenario.tempest
    if not options.enabled:
        return None
    work = Path(cloud.state_dir) / "tempest" / "work"
    if target.name == "devstack":
        return Tempest(on_devstack_node(target.site.controller.url), work, run_dir, options)
    venv, _ = install.ensure(cache_dir)
    image, flavor = smoke.ensure_image_and_flavor(openstack_api.admin(cloud))
    conf = config.write(cloud, image, flavor, run_dir / ledger.FOLDER / "tempest.log")
    return Tempest(local(venv, conf), work, run_dir, options, config=conf)


def on_devstack_node(url: str) -> Command:
    """`tempest run` in devstack's tempest checkout on the node at `url` (the nodes file's
    testinfra URL: ssh://user@host[:port][?ssh_identity_file=…], or local:// when the
    harness runs on the node itself), with the tempest of devstack's venv for it."""
    parts = urlsplit(url)

    def remote(args: list[str]) -> str:
        tempest = f"{DEVSTACK_TEMPEST}/.tox/tempest/bin/tempest"
        return (f"cd {DEVSTACK_TEMPEST} && T={tempest} && {{ [ -x $T ] || T=tempest; }} && "
                f"exec $T run {shlex.join(args)}")  # fmt: skip

    if parts.scheme == "local":
        return lambda args: ["bash", "-c", remote(args)]
    ssh = ["ssh", "-o", "BatchMode=yes"]
    if parts.port:
        ssh += ["-p", str(parts.port)]
    for key in parse_qs(parts.query).get("ssh_identity_file", []):
        ssh += ["-i", key]
    where = f"{parts.username}@{parts.hostname}" if parts.username else str(parts.hostname)
    return lambda args: [*ssh, where, remote(args)]
