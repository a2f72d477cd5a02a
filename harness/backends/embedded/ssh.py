"""The SSH transport: Debian's sshd in each embedded node's namespace, so the harness can
reach the embedded nodes through testinfra's ssh backend exactly as it reaches devstack
nodes, and the remote path is exercised against real hosts.

Per cloud, under `<state dir>/ssh/` (mode 700, keys mode 600, never copied to reports):
one host key (every node presents it), one client key (root's only way in), an
authorized_keys file, a known_hosts file and an ssh_config for the client. Each node's
sshd listens on the node's address only, port 22, takes root by that key only (no
passwords, no PAM), and is a process the harness supervises like any other: `harness
down` stops it.

A node's URL carries what testinfra's ssh backend needs: `ssh://root@<address>:22?
ssh_config=<state dir>/ssh/ssh_config&controlpersist=0` — no connection multiplexing, so
no master connection outlives a command or the cloud.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness import process, wait
from harness.backends.embedded import lifecycle, prereqs
from harness.backends.embedded.cloud import Cloud
from harness.errors import StepFailed, UserError
from harness.scenario import Node

PACKAGE = "openssh-server"
SSHD = Path("/usr/sbin/sshd")
KEYGEN = "ssh-keygen"
PORT = 22
USER = "root"
# sshd refuses to start without its privilege-separation directory (the package's
# systemd unit would create it; we run sshd ourselves).
PRIVSEP_DIR = Path("/run/sshd")
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class Files:
    """Where one cloud's SSH files live."""

    dir: Path

    @property
    def host_key(self) -> Path:
        return self.dir / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.dir / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def client_config(self) -> Path:
        return self.dir / "ssh_config"

    def sshd_config(self, node: str) -> Path:
        return self.dir / f"sshd_config-{node}"

    def pid_file(self, node: str) -> Path:
        return self.dir / f"sshd-{node}.pid"


def files(cloud: Cloud) -> Files:
    return Files(cloud.state_dir / "ssh")


# -- configuration (pure) ------------------------------------------------------------------------


def sshd_config(f: Files, node: Node) -> str:
    """One node's sshd: its address only, root by the cloud's client key only."""
    return "\n".join([
        f"ListenAddress {node.address}:{PORT}",
        f"HostKey {f.host_key}",
        f"PidFile {f.pid_file(node.name)}",
        f"AuthorizedKeysFile {f.authorized_keys}",
        f"AllowUsers {USER}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "PermitUserEnvironment no",
        "LogLevel INFO",
        "",
    ])  # fmt: skip


def ssh_config(f: Files) -> str:
    """The client side: the cloud's key only, its own known_hosts, never a prompt."""
    return "\n".join([
        "Host *",
        f"  User {USER}",
        f"  Port {PORT}",
        f"  IdentityFile {f.client_key}",
        "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {f.known_hosts}",
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking accept-new",
        "  BatchMode yes",
        "  PasswordAuthentication no",
        "  ConnectTimeout 10",
        "  LogLevel ERROR",
        "",
    ])  # fmt: skip


def ssh_url(cloud: Cloud, node: Node | str) -> str:
    """The node as a testinfra URL for its ssh backend."""
    node = cloud.scenario.node(node) if isinstance(node, str) else node
    query = urllib.parse.urlencode({"ssh_config": files(cloud).client_config, "controlpersist": 0})
    return f"ssh://{USER}@{node.address}:{PORT}?{query}"


# -- keys and files ------------------------------------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    done = subprocess.run(
        [KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode != 0:
        raise StepFailed(f"ssh-keygen for {path.name} failed: {done.stderr.strip()[:200]}")
    path.chmod(0o600)


def writable_by_others(path: Path) -> Path | None:
    """The first of `path` and its parents that sshd's StrictModes would refuse (not root's,
    or group- or world-writable): sshd then rejects every key under it."""
    for p in (path, *path.parents):
        st = p.stat()
        if st.st_uid != 0 or st.st_mode & 0o022:
            return p
    return None


def ensure_files(cloud: Cloud) -> Files:
    """The cloud's keys and client files, made on first use."""
    f = files(cloud)
    f.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    f.dir.chmod(0o700)
    _keygen(f.host_key, f"upgrade-harness host {cloud.scenario.name}")
    _keygen(f.client_key, f"upgrade-harness client {cloud.scenario.name}")
    _write_private(f.authorized_keys, Path(f"{f.client_key}.pub").read_text())
    _write_private(f.client_config, ssh_config(f))
    f.known_hosts.touch(mode=0o600)
    return f


# -- prerequisite ----------------------------------------------------------------------------------


def require_sshd() -> None:
    """Debian's openssh-server (and ssh-keygen), installed the way the cloud's packages are."""
    if not SSHD.exists() and prereqs.is_root():
        prereqs.install_packages([PACKAGE])
    if not SSHD.exists() or not shutil.which(KEYGEN):
        raise UserError(f"The SSH transport needs Debian's {PACKAGE} ({SSHD}); install it.")


# -- sshd ------------------------------------------------------------------------------------------


def start_sshd(cloud: Cloud, node: Node | str) -> process.Proc:
    """Run sshd in the node's namespace, supervised like every process of the cloud, and
    wait until it accepts connections on the node's address."""
    node = cloud.scenario.node(node) if isinstance(node, str) else node
    require_sshd()
    f = ensure_files(cloud)
    if unsafe := writable_by_others(f.authorized_keys):
        raise UserError(
            f"sshd refuses keys under {unsafe} (others can write it); use a state dir "
            "whose parent directories only root can write."
        )
    config = f.sshd_config(node.name)
    _write_private(config, sshd_config(f, node))
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    test = subprocess.run([str(SSHD), "-t", "-f", str(config)], capture_output=True, text=True)
    if test.returncode != 0:
        raise StepFailed(f"sshd rejects {config}: {test.stderr.strip()[:300]}")
    argv = [str(SSHD), "-D", "-e", "-f", str(config)]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    proc = process.spawn("sshd", node.name, cloud.netns(node), argv, env,
                         cloud.log_path(node, "sshd"))  # fmt: skip
    lifecycle.started(cloud, proc)
    _wait_accepting(node, proc)
    return proc


def _wait_accepting(node: Node, proc: process.Proc) -> None:
    def accepting() -> bool:
        if not process.alive(proc):
            tail = Path(proc.log).read_text(errors="replace").strip().splitlines()[-1:]
            raise StepFailed(f"sshd on {node.name} exited: {' '.join(tail) or 'no output'}")
        with socket.create_connection((node.address, PORT), timeout=1):  # OSError: again
            return True

    wait.until(accepting, START_TIMEOUT, f"sshd on {node.name} accepting on "
               f"{node.address}:{PORT}", interval=0.05)  # fmt: skip
