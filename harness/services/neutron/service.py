"""Neutron: a real neutron-server API under uwsgi on each API node and, on nodes with the
`network` role (scenarios/neutron-agents.yaml), ML2/OVS: an RPC server per API node, the
OVS agent on each node, the DHCP agent on the controller.

nova-api calls neutron on every server read, even for servers with no network, so a real
neutron API is part of every cloud; with no node of the `network` role (the default)
nothing binds ports, which is fine for servers booted with "networks": "none".

Rolling upgrade: the expand branch is additive and runs while old servers serve; the
contract branch is not safe while any neutron-server runs, so it is applied only when
`has_offline_migrations` says nothing needs an offline window — otherwise that is recorded
as a finding (a rolling upgrade of this pair would need a neutron-server outage).
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING

from harness import wait
from harness.errors import StepFailed
from harness.scenario import Node
from harness.services.base import (
    Action,
    Api,
    OnDevstack,
    Pushes,
    Schema,
    Service,
    authtoken,
    write_ini,
)
from harness.services.neutron import resources as neutron_resources

if TYPE_CHECKING:  # the embedded cloud imports the services' registry
    from harness.backends.embedded.cloud import Cloud


SERVER = "neutron-rpc-server"  # neutron-server's RPC half: what the agents talk to
L2, DHCP = "neutron-openvswitch-agent", "neutron-dhcp-agent"
AGENTS = (L2, DHCP)  # neutron's order on a node: the L2 agent, then the others
RPC_QUEUE = "q-plugin"  # what the agents call the server on (neutron_lib topics.PLUGIN)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Neutron(Service):
    project = "neutron"
    resources = neutron_resources
    databases = ("neutron",)
    schemas = (Schema("neutron", "database.connection", "neutron-db-manage upgrade heads"),)
    api = Api("neutron-api", "network", 9696, "", "neutron.wsgi.api:application")
    devstack = OnDevstack(
        {"neutron-api": "neutron-api", SERVER: "neutron-rpc-server", L2: "q-agt", DHCP: "q-dhcp"},
        ("/etc/neutron/neutron.conf",), "/networking",
    )  # fmt: skip
    packaged_files = {"etc/neutron/api-paste.ini": "api-paste.ini"}
    actions = {
        "expand": Action("neutron-db-manage upgrade --expand"),
        "contract": Action(
            "neutron-db-manage upgrade --contract",
            guard="neutron-db-manage has_offline_migrations",
            guard_finding="contract migrations need every neutron-server stopped: not applied",
        ),
    }
    before_roll = ("expand",)
    after_roll = ("contract",)

    shared_mounts = AGENTS  # the DHCP agent makes its qdhcp- namespace itself
    # The servers push each changed Port, Network, SecurityGroup… to every version the agents
    # reported (neutron/api/rpc/handlers/resources_rpc.py); the OVS agent's cache consumes
    # them (the DHCP agent is told by casts to its own topic instead).
    pushes = Pushes(r"neutron-vo-(?P<type>[A-Za-z]+)-(?P<version>[0-9.]+)_fanout", (L2,))
    # neutron's guide: every server (API and RPC) first; an agent newer than a server that
    # answers it is not supported
    upgraded_after = {agent: (SERVER, "neutron-api") for agent in AGENTS}

    def runs_on(self, node: Node) -> bool:
        return node.serves(self.api.name) or node.has("network")

    # The agents call the RPC server as they start (their state sync): a call sent before
    # one consumes has no queue to go to and times out after 60 s (seen: the DHCP agent's
    # first sync). A server consumes q-plugin, where they call any, and q-plugin.<host>.
    ready_queues = {SERVER: f"{RPC_QUEUE}.{{host}}"}

    def daemons(self, node: Node) -> list[str]:
        """On a node with the `network` role, its agents (the L2 agent first, as neutron's
        guide starts them), after the RPC server they talk to where the node is the
        controller or serves neutron-api; the controller also runs the DHCP agent.

        An RPC server on each API node, as neutron-server's RPC half runs wherever the
        server does: with one, its restart left q-plugin with no consumer for 11 s, and an
        agent's get_network_details for a network created then came to the new server
        after the load had deleted it (NetworkNotFound, ERROR in the server and the agent,
        both agent rolls): the harness's single point, not neutron's fault."""
        if not node.has("network"):
            return []
        server = [SERVER] if node.has("controller") or node.serves(self.api.name) else []
        return [*server, *AGENTS] if node.has("controller") else [*server, L2]

    def daemon_argv(self, cloud: Cloud, node: Node, name: str) -> list[str]:
        d = self.config_dir(cloud, node)
        extra = {L2: ["--config-file", str(d / "openvswitch_agent.ini")],
                 DHCP: ["--config-file", str(d / "dhcp_agent.ini")]}.get(name, [])  # fmt: skip
        return [name, *self.config_args(cloud, node), *extra]

    def namespaces_made(self, cloud: Cloud, node: Node) -> list[str]:
        """The DHCP agent's, one per network it served: qdhcp-<network id>, each with a
        folder of that id in its state (dnsmasq's host file and leases)."""
        served = self.config_dir(cloud, node) / "state" / "dhcp"
        if not served.is_dir():
            return []
        return [f"qdhcp-{d.name}" for d in sorted(served.iterdir())
                if d.is_dir() and UUID.fullmatch(d.name)]  # fmt: skip

    def daemon_env(self, cloud: Cloud, node: Node, name: str) -> dict[str, str]:
        if name not in AGENTS:
            return {}
        from harness.backends.embedded.infra import ovs  # the embedded cloud's own switch

        return ovs.env(cloud, node)

    def roll(self, p) -> list:
        """neutron's guide: the servers first (the RPC server, then the APIs node by node
        behind HAProxy), then the agents, node by node, the L2 agent before the others;
        expand before, contract after (when nothing needs an offline window)."""
        steps = [p.manage(a) for a in self.before_roll]
        for node in p.scenario.nodes:
            if SERVER in self.daemons(node):
                steps.append(p.restart(node.name, SERVER))
        steps += p.api_roll(self.api.name)
        for node in p.scenario.nodes:
            steps += [p.restart(node.name, name) for name in self.daemons(node) if name in AGENTS]
        return steps + [p.manage(a) for a in self.after_roll]

    def after_start(self, cloud: Cloud) -> None:
        """Ports can be bound and served once every agent reports alive."""
        from harness.backends import openstack_api  # openstacksdk: only when a cloud comes up

        conn = openstack_api.admin(cloud)
        for node in cloud.scenario.nodes:
            for name in self.daemons(node):
                self.wait_ready(conn, node.name, name, datetime.datetime.min,
                                cloud.scenario.services.startup_timeout)  # fmt: skip

    def wait_ready(self, conn, host, process, since, timeout, alive=None) -> None:
        """An agent is ready once neutron has its report from after `since` (its first
        report, at start, is its state sync's beginning: `started_at`)."""
        if process not in AGENTS:
            return

        def reported() -> bool:
            if alive is not None and not alive():
                raise StepFailed(f"{process} on {host} exited while starting; its log says why")
            for agent in conn.network.agents(host=host, binary=process):
                beat = agent.last_heartbeat_at
                if agent.is_alive and beat and datetime.datetime.fromisoformat(
                        str(beat).rstrip("Z")).replace(tzinfo=None) > since:  # fmt: skip
                    return True
            return False

        wait.until(reported, timeout, f"{process} on {host} reporting alive", interval=1.0)

    def files(self, cloud: Cloud, node: Node | str):
        d = self.config_dir(cloud, node)
        return d / "neutron.conf", d / "ml2_conf.ini"

    def conf(self, cloud: Cloud, node: Node | str):
        return self.files(cloud, node)[0]

    def config_args(self, cloud: Cloud, node: Node | str) -> list[str]:
        neutron_conf, ml2_conf = self.files(cloud, node)
        return ["--config-file", str(neutron_conf), "--config-file", str(ml2_conf)]

    def configure(self, cloud: Cloud, node: Node) -> None:
        neutron_conf, ml2_conf = self.files(cloud, node)
        write_ini(
            neutron_conf,
            {
                "DEFAULT": {
                    "debug": False,
                    "host": node.name,
                    "core_plugin": "ml2",
                    # The default extension auto-allocated-topology needs the L3 router
                    # plugin: without it each neutron-server logs an ERROR as it starts.
                    "service_plugins": "router",
                    "auth_strategy": "keystone",
                    "transport_url": cloud.transport_url,
                    "notify_nova_on_port_status_changes": False,
                    "notify_nova_on_port_data_changes": False,
                    "api_paste_config": self.config_dir(cloud, node) / "api-paste.ini",
                    "state_path": self.config_dir(cloud, node) / "state",  # the agents' files
                    "rpc_workers": 1,  # neutron-rpc-server's; neutron-status warns unset
                    # agents' state reports in that worker (ML2 consumes them there too),
                    # not in a process of their own: 146 MiB RSS less
                    "rpc_state_report_workers": 0,
                    # the stop contract the harness waits out (scenario.ServiceOptions); the
                    # OVS agent (28.0.0) quits its loop on SIGTERM but stays until this ends it
                    "graceful_shutdown_timeout": cloud.scenario.services.graceful_shutdown_timeout,
                },
                "database": {"connection": cloud.db_url("neutron", "neutron")},
                "keystone_authtoken": authtoken(cloud, "neutron"),
                "oslo_concurrency": {"lock_path": self.config_dir(cloud, node) / "locks"},
                # root already: privsep's helper and neutron's root commands run through
                # `env` (the default, sudo, is not installed and would reset OVS_RUNDIR)
                "agent": {"root_helper": "env"},
                "oslo_messaging_notifications": {"driver": "noop"},
                # The segments notifier asks placement about a network's segments as the
                # network goes; with no credentials here each ask died in its thread with
                # MissingAuthPlugin (8 to 36 tracebacks per neutron-api log). devstack
                # configures this section too (lib/neutron: configure_keystoneauth).
                "placement": cloud.service_credentials("neutron"),
            },
        )
        agents = any(n.has("network") for n in cloud.scenario.nodes)
        write_ini(
            ml2_conf,
            {
                "ml2": {
                    "type_drivers": "local,flat,vlan",
                    "project_network_types": "local",
                    # every server binds ports (the API's too): the same drivers everywhere
                    "mechanism_drivers": "openvswitch" if agents else "",
                    "extension_drivers": "port_security",
                },
            },
        )
        if node.has("network"):
            self._configure_agents(cloud, node)

    def _configure_agents(self, cloud: Cloud, node: Node) -> None:
        d = self.config_dir(cloud, node)
        ovs = {
            # no kernel datapath here: userspace, each port a tap (infra/ovs.py)
            "datapath_type": "netdev",
            "integration_bridge": "br-int",
        }
        write_ini(d / "openvswitch_agent.ini", {
            "ovs": ovs,
            "agent": {"tunnel_types": ""},  # local networks: nothing crosses nodes
            # nova's fake driver plugs no VIF: no port's traffic to filter
            "securitygroup": {"firewall_driver": "noop"},
        })  # fmt: skip
        write_ini(d / "dhcp_agent.ini", {
            "DEFAULT": {"interface_driver": "openvswitch", "enable_isolated_metadata": False},
            "ovs": ovs,
        })  # fmt: skip

    def api_env(self, cloud: Cloud, node: Node) -> dict[str, str]:
        return {
            "OS_NEUTRON_CONFIG_DIR": str(self.config_dir(cloud, node)),
            "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini",
        }

    def sync(self, cloud: Cloud, series: str) -> None:
        argv = ["neutron-db-manage", *self.config_args(cloud, cloud.scenario.controller)]
        self.manage(cloud, series, [*argv, "upgrade", "heads"], "neutron-db-manage upgrade heads")
