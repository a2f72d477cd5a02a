"""RabbitMQ from Debian inside the controller namespace, pointed at its own files.

Nothing is written to /etc: every path comes from RABBITMQ_* variables, the Erlang cookie
from HOME. The node uses a long name on the controller's address so rabbitmqctl finds it
through an epmd bound to that address only (epmd is ours too, started in the foreground).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from harness import process, wait

if TYPE_CHECKING:  # the cloud starts and addresses this piece of it
    from harness.backends.embedded.cloud import Cloud

NAME = "rabbitmq"
RABBIT_BIN = "/usr/lib/rabbitmq/bin"
PORT = 5672
PLUGINS = ("rabbitmq_event_exchange",)


def _base(cloud: Cloud) -> Path:
    return cloud.node_dir(cloud.scenario.controller, NAME)


def nodename(cloud: Cloud) -> str:
    return f"rabbit@{cloud.controller_address}"


def env(cloud: Cloud) -> dict[str, str]:
    base = _base(cloud)
    address = cloud.controller_address
    return {
        "PATH": f"{RABBIT_BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(base),
        "LANG": "C.UTF-8",
        "RABBITMQ_NODENAME": nodename(cloud),
        "RABBITMQ_USE_LONGNAME": "true",
        "RABBITMQ_NODE_IP_ADDRESS": address,
        "RABBITMQ_NODE_PORT": str(PORT),
        "RABBITMQ_DIST_PORT": "25672",
        "ERL_EPMD_ADDRESS": address,
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PLUGINS_EXPAND_DIR": str(base / "plugins-expand"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
            f"-kernel inet_dist_use_interface {_erl_ip(address)}"
        ),
    }


def _erl_ip(address: str) -> str:
    return "{" + ",".join(address.split(".")) + "}"


def _write_config(cloud: Cloud) -> None:
    base = _base(cloud)
    for sub in ("mnesia", "log", "plugins-expand"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    password = cloud.secrets.get("rabbit-openstack")
    conf = base / "rabbitmq.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            f"listeners.tcp.default = {cloud.controller_address}:{PORT}\n"
            "default_user = openstack\n"
            f"default_pass = {password}\n"
            "default_vhost = /\n"
            "default_permissions.configure = .*\n"
            "default_permissions.read = .*\n"
            "default_permissions.write = .*\n"
            "loopback_users = none\n"
            "log.console = true\n"
            "log.file = false\n"
        )
    (base / "advanced.config").write_text("[].\n")
    # queue.created / queue.deleted events: the bus ledger needs to know when a queue that
    # held undelivered messages went away (see bus/).
    (base / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
    cookie = base / ".erlang.cookie"
    if not cookie.exists():
        fd = os.open(cookie, os.O_WRONLY | os.O_CREAT, 0o400)
        with os.fdopen(fd, "w") as f:
            f.write(
                cloud.secrets.get("erlang-cookie").replace("-", "").replace("_", "")[:20].upper()
            )


def start(cloud: Cloud) -> None:
    node = cloud.scenario.controller
    ns = cloud.netns(node)
    _write_config(cloud)
    e = env(cloud)
    epmd = process.spawn(
        "epmd", node.name, ns, ["epmd", "-address", cloud.controller_address], e,
        cloud.log_path(node, "epmd"),
    )  # fmt: skip
    cloud.add_process(epmd)
    start_server(cloud)


def start_server(cloud: Cloud) -> None:
    """rabbitmq-server on the controller (epmd and the config already there), recorded,
    once it accepts connections; also how a restart brings it back
    (harness/backends/embedded/faults.py)."""
    node = cloud.scenario.controller
    log = cloud.log_path(node, NAME)
    argv = [f"{RABBIT_BIN}/rabbitmq-server"]
    cloud.add_process(process.spawn(NAME, node.name, cloud.netns(node), argv, env(cloud), log))
    wait.until(lambda: _ready(cloud), 90, "RabbitMQ accepting connections", interval=1.0)


def ctl(cloud: Cloud, *args: str, timeout: float = 60) -> int:
    node = cloud.scenario.controller
    argv = [f"{RABBIT_BIN}/rabbitmqctl", "--longnames", "-n", nodename(cloud), *args]
    log = cloud.log_path(node, "rabbitmqctl")
    return process.run(argv, cloud.netns(node), env(cloud), log, timeout=timeout).returncode


def _ready(cloud: Cloud) -> bool:
    try:
        return ctl(cloud, "await_startup", "--timeout", "5", timeout=30) == 0
    except subprocess.TimeoutExpired:  # a hung rabbitmqctl means "not ready yet"
        return False


def ctl_output(cloud: Cloud, *args: str, timeout: float = 60) -> str:
    """rabbitmqctl's standard output (its errors go to the rabbitmqctl log)."""
    node = cloud.scenario.controller
    argv = [f"{RABBIT_BIN}/rabbitmqctl", "--longnames", "-n", nodename(cloud), *args]
    with open(cloud.log_path(node, "rabbitmqctl"), "ab") as err:
        done = subprocess.run(process.netns_argv(cloud.netns(node), argv), env=env(cloud),
                              stdout=subprocess.PIPE, stderr=err, timeout=timeout,
                              check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} exited {done.returncode}")
    return done.stdout.decode()


class Broker:
    """The embedded RabbitMQ, as the bus tracer needs it (harness/bus/control.py)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def credentials(self) -> dict:
        password = self.cloud.secrets.get("rabbit-openstack")
        host = self.cloud.controller_address
        return {"host": host, "port": PORT, "user": "openstack", "password": password}

    def ctl(self, *args: str) -> str:
        return ctl_output(self.cloud, *args)
