"""Prerequisites: root, network namespaces, and the Debian packages the cloud runs on.

A missing package is installed when running as root (services are kept from starting at
install time: the harness runs its own instances, bound to its own addresses).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError
from harness.releases.catalog import uv_binary

PACKAGES = (
    "mariadb-server",
    "rabbitmq-server",
    "haproxy",
    # the VIP on two balancers by VRRP (infra/keepalived.py); its health script uses socat
    "keepalived",
    "iproute2",
    "procps",
    # the host checks ask HAProxy's admin socket on the node, as an operator does
    "socat",
    # faults: a port that refuses connections for a while (harness/backends/embedded/faults.py)
    "nftables",
    # neutron's agents (nodes with the `network` role): OVS's userspace datapath
    # (infra/ovs.py; its service is never started), the DHCP agent's dnsmasq and the
    # iptables-save it runs in each qdhcp- namespace
    "openvswitch-switch",
    "dnsmasq-base",
    "iptables",
    # uwsgi (in every release venv) compiles from source: a C compiler and Python headers.
    "gcc",
    "python3-dev",
)
POLICY_RC = Path("/usr/sbin/policy-rc.d")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    installable: bool = False  # the harness installs it itself (prepare, up)


def is_root() -> bool:
    return os.geteuid() == 0


def netns_works() -> tuple[bool, str]:
    if not shutil.which("ip"):
        return False, "the ip command (iproute2) is missing"
    probe = f"uh-probe-{os.getpid()}"
    added = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if added.returncode != 0:
        return False, added.stderr.strip() or "ip netns add failed"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return True, "ip netns add/del works"


def package_installed(name: str) -> bool:
    if not shutil.which("dpkg-query"):
        return False
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True
    )
    return done.returncode == 0 and done.stdout.endswith("ok installed")


def missing_packages() -> list[str]:
    return [p for p in PACKAGES if not package_installed(p)]


def checks() -> list[Check]:
    rows = [Check("root", is_root(), "running as root" if is_root() else "not running as root")]
    if is_root():
        ok, detail = netns_works()
        rows.append(Check("network namespaces", ok, detail))
    for pkg in PACKAGES:
        ok = package_installed(pkg)
        later = "not installed yet: `harness prepare` or `up` installs it"
        rows.append(Check(f"package {pkg}", ok, "installed" if ok else later, True))
    # The uv the harness runs is the one beside its interpreter (a dependency), else PATH's.
    try:
        rows.append(Check("uv", True, uv_binary()))
    except UserError:
        rows.append(Check("uv", False, "missing (pip install uv)"))
    return rows


def require(install: bool = True) -> None:
    """Raise UserError (exit 2) unless the cloud can be brought up on this machine."""
    if not is_root():
        raise UserError("The embedded cloud needs root (network namespaces); run as root.")
    ok, detail = netns_works()
    if not ok:
        raise UserError(f"Network namespaces do not work here: {detail}.")
    missing = missing_packages()
    if missing and install:
        install_packages(missing)
        missing = missing_packages()
    if missing:
        raise UserError(f"Missing Debian packages: {', '.join(missing)}.")


def install_packages(names: list[str]) -> None:
    if not shutil.which("apt-get"):
        raise UserError(f"Missing packages {', '.join(names)} and no apt-get to install them.")
    log.info("installing Debian packages: %s (apt-get)", " ".join(names))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # policy-rc.d exit 101 keeps the packages' own services from starting on install.
    own_policy = not POLICY_RC.exists()
    if own_policy:
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *names]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise UserError(
                    f"Could not install {', '.join(names)}: {last} (apt-get's proxy is "
                    "http_proxy or Acquire::http::Proxy in /etc/apt/apt.conf.d)."
                )
    finally:
        if own_policy:
            POLICY_RC.unlink(missing_ok=True)
