"""A testinfra host per node, so checks run *on the node* as they would on a real host.

testinfra has no network-namespace backend; `NetnsBackend` is one: every command runs as
`ip netns exec <namespace> /bin/sh -c <command>`, so sockets are the node's own (ss sees
only the namespace's sockets). Processes and files are the machine's, as on one host.
Hosts are chosen by URL: `netns://<namespace>` here, any testinfra URL otherwise
(`ssh://stack@node?sudo=true` for a devstack node, `ssh://root@<address>` for an embedded
node running sshd), so a new place to run is a new URL.
"""

from __future__ import annotations

from typing import Any

import testinfra
from testinfra.backend import base
from testinfra.host import Host

from harness.backends.embedded import ssh
from harness.backends.embedded.cloud import Cloud
from harness.scenario import Node

SCHEME = "netns"


class NetnsBackend(base.BaseBackend):
    NAME = SCHEME

    def __init__(self, namespace: str, *args: Any, **kwargs: Any):
        super().__init__(namespace, *args, **kwargs)
        self.namespace = namespace

    def wrap(self, command: str) -> str:
        """The local command line that runs `command` (already quoted) in the namespace."""
        return self.quote("ip netns exec %s /bin/sh -c %s", self.namespace, command)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        out = self.run_local(self.wrap(cmd))
        out.command = self.encode(cmd)  # as testinfra's container backends: the node's command
        return out


def get_host(url: str) -> Host:
    """A testinfra host from a URL; `netns://<namespace>` is ours, the rest testinfra's."""
    scheme, _, rest = url.partition("://")
    if scheme != SCHEME:
        return testinfra.get_host(url)
    backend = NetnsBackend(rest)
    host = Host(backend)
    backend.set_host(host)
    return host


TRANSPORTS = (SCHEME, "ssh")


def host_url(cloud: Cloud, node: Node | str, transport: str = SCHEME) -> str:
    """The node's URL: `netns` runs commands in its namespace from here; `ssh` goes through
    the sshd running in it (harness/backends/embedded/ssh.py), as a devstack node is reached."""
    if transport == "ssh":
        return ssh.ssh_url(cloud, node)
    if transport != SCHEME:
        raise ValueError(f"unknown transport {transport!r}; known: {', '.join(TRANSPORTS)}")
    return f"{SCHEME}://{cloud.netns(node)}"


def host_for(cloud: Cloud, node: Node | str, transport: str = SCHEME) -> Host:
    """The node as a testinfra host: `host.run`, `host.file`, `host.socket`, `host.process`."""
    return get_host(host_url(cloud, node, transport))
