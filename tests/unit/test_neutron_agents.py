"""neutron's agents, on nodes with the `network` role: where they run, their config, how
they start (the root mount namespace), and their place in neutron's roll — without
starting anything."""

from pathlib import Path

import pytest

from harness import process, scenario
from harness.backends.embedded.infra import ovs
from harness.plan import planner
from harness.plan import steps as st
from harness.services import BY_NAME
from harness.services.base import read_ini

from .test_config import configured

ROOT = Path(__file__).resolve().parents[2]
NEUTRON = BY_NAME["neutron"]


def with_agents(tmp_path: Path) -> Path:
    path = tmp_path / "agents.yaml"
    path.write_text(
        f"extends: {ROOT / 'scenarios' / 'nova-rolling.yaml'}\n"
        "nodes:\n"
        "  - {name: controller, address: 10.250.0.11,\n"
        "     roles: [controller, api, compute, lb, network]}\n"
        "  - {name: compute-api, address: 10.250.0.12, roles: [api, compute, lb, network]}\n"
    )
    return path


@pytest.fixture
def cloud(tmp_path):
    return configured(scenario.load(with_agents(tmp_path)), tmp_path / "state")


def test_the_agents_run_on_network_nodes_an_rpc_server_on_each_api_node_dhcp_on_the_controller(
    cloud,
):
    controller, other = cloud.scenario.nodes
    assert NEUTRON.daemons(controller) == [
        "neutron-rpc-server", "neutron-openvswitch-agent", "neutron-dhcp-agent"]  # fmt: skip
    # one RPC server per API node: the agents' calls find one while the other restarts
    assert NEUTRON.daemons(other) == ["neutron-rpc-server", "neutron-openvswitch-agent"]
    agent_only = scenario.Node("network-only", "10.250.0.13", ("compute", "network"))
    assert NEUTRON.daemons(agent_only) == ["neutron-openvswitch-agent"]
    # each one is ready once it consumes its own queue, not once any server does
    assert NEUTRON.ready_queue("compute-api", "neutron-rpc-server") == "q-plugin.compute-api"
    assert NEUTRON.ready_queue("compute-api", "neutron-openvswitch-agent") is None
    default = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml")
    assert all(NEUTRON.daemons(n) == [] for n in default.nodes)  # no role, no agents


def test_every_server_binds_with_the_ovs_driver_and_the_agents_use_the_userspace_datapath(
    cloud,
):
    for node in cloud.scenario.nodes:
        d = NEUTRON.config_dir(cloud, node)
        assert read_ini(d / "ml2_conf.ini")["ml2"]["mechanism_drivers"] == "openvswitch"
        agent = read_ini(d / "openvswitch_agent.ini")
        assert agent["ovs"]["datapath_type"] == "netdev"
        assert agent["ovs"]["integration_bridge"] == "br-int"
        assert read_ini(d / "dhcp_agent.ini")["DEFAULT"]["interface_driver"] == "openvswitch"
        conf = read_ini(NEUTRON.conf(cloud, node))
        assert conf["agent"]["root_helper"] == "env"  # no sudo: privsep through env
        argv = NEUTRON.daemon_argv(cloud, node, "neutron-openvswitch-agent")
        assert argv[0] == "neutron-openvswitch-agent" and str(d / "openvswitch_agent.ini") in argv
        env = NEUTRON.daemon_env(cloud, node, "neutron-dhcp-agent")
        assert env["OVS_RUNDIR"] == str(ovs.rundir(cloud, node))  # this node's switch


def test_the_agents_start_in_the_root_mount_namespace():
    """`ip netns exec` would hide the qdhcp- namespace the DHCP agent bind-mounts."""
    assert set(NEUTRON.shared_mounts) == {"neutron-openvswitch-agent", "neutron-dhcp-agent"}
    assert process.netns_argv("uh-controller", ["x"], shared_mounts=True) == [
        "nsenter", "--net=/run/netns/uh-controller", "--", "x"]  # fmt: skip
    assert process.netns_argv("uh-controller", ["x"]) == [
        "ip",
        "netns",
        "exec",
        "uh-controller",
        "x",
    ]


def test_neutrons_roll_is_the_servers_then_the_agents_node_by_node(tmp_path):
    plan = planner.build(scenario.load(with_agents(tmp_path)), seed=1)
    steps = [s for _, phase, s in plan.numbered() if phase.name == "neutron"]
    restarts = [(s.node, s.process) for s in steps if isinstance(s, st.Restart)]
    assert restarts == [
        ("controller", "neutron-rpc-server"),
        ("compute-api", "neutron-rpc-server"),
        ("controller", "neutron-api"),
        ("compute-api", "neutron-api"),
        ("controller", "neutron-openvswitch-agent"),
        ("controller", "neutron-dhcp-agent"),
        ("compute-api", "neutron-openvswitch-agent"),
    ]
    kinds = [s.kind for s in steps]
    assert kinds[0] == "manage" and kinds[-1] == "manage"  # expand first, contract last


def test_the_dhcp_agents_namespaces_are_the_networks_it_served(cloud):
    controller = cloud.scenario.controller
    served = NEUTRON.config_dir(cloud, controller) / "state" / "dhcp"
    net = "0f5c4c1e-6d0c-4a57-9d7e-2b5d1f0c9a11"
    (served / net).mkdir(parents=True)
    (served / "lock").mkdir()
    assert NEUTRON.namespaces_made(cloud, controller) == [f"qdhcp-{net}"]


def test_on_devstack_the_agents_units_restart_after_the_servers_node_by_node(tmp_path):
    from harness.backends.devstack import nodes as devstack_nodes
    from harness.backends.devstack import units as ds

    site = devstack_nodes.parse({"nodes": [
        {"name": "controller", "address": "10.0.0.11",
         "roles": ["controller", "api", "compute", "network"]},
        {"name": "compute-api", "address": "10.0.0.12",
         "roles": ["nova-api", "compute", "network"]}], "vip": "10.0.0.10"},
        tmp_path / "nodes.yaml")  # fmt: skip
    s = devstack_nodes.scenario_on(scenario.load(ROOT / "scenarios" / "nova-rolling.yaml"), site)
    plan = planner.build(s, seed=1)
    layout = ds.Layout(base=s.release_from)
    starts = []
    for _, phase, step in plan.numbered():
        if phase.name == "neutron" and isinstance(step, st.Restart):
            cmds = ds.commands(step, layout, "controller")
            starts += [(c.node, c.command) for c in cmds if c.command.startswith("systemctl start")]
    assert starts == [
        ("controller", "systemctl start devstack@neutron-rpc-server.service"),
        ("controller", "systemctl start devstack@neutron-api.service"),
        ("controller", "systemctl start devstack@q-agt.service"),
        ("controller", "systemctl start devstack@q-dhcp.service"),
        ("compute-api", "systemctl start devstack@q-agt.service"),
    ]


def test_a_plan_told_servers_first_false_rolls_the_agents_before_neutrons_servers(tmp_path):
    path = with_agents(tmp_path)
    path.write_text(path.read_text() + "plan:\n  servers_first: false\n")
    plan = planner.build(scenario.load(path), seed=1)
    steps = [s for _, phase, s in plan.numbered() if phase.name == "neutron"]
    restarts = [(s.node, s.process) for s in steps if isinstance(s, st.Restart)]
    assert restarts == [
        ("controller", "neutron-openvswitch-agent"),
        ("controller", "neutron-dhcp-agent"),
        ("compute-api", "neutron-openvswitch-agent"),
        ("controller", "neutron-rpc-server"),
        ("compute-api", "neutron-rpc-server"),
        ("controller", "neutron-api"),
        ("compute-api", "neutron-api"),
    ]
    assert "servers_first=false" in planner.render(plan)
