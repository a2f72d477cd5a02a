"""The devstack nodes file: where the devstack nodes are and how the harness reaches them.

The multinode Zuul job writes it (playbooks/multinode.yaml); by hand it reads:

    nodes:
      - name: controller          # the plan's node name (and nova's host, unless hostname)
        address: 10.0.0.11
        hostname: np0001          # optional: nova's host name for the node
        roles: [controller, api, compute]   # optional, see DEFAULT_ROLES
        url: ssh://stack@10.0.0.11?sudo=true   # optional testinfra URL (the default)
      - name: compute-api
        address: 10.0.0.12
    vip: 10.0.0.10                # optional: keepalived's VIP, else the controller's address
    nova_port: 28774              # the plugin's HAProxy port for nova-api
    cloud: devstack-admin         # the clouds.yaml entry with admin credentials (default:
    clouds_yaml: /etc/openstack/clouds.yaml   # OS_CLOUD, else devstack-admin), read on the
                                              # controller with its secure.yaml

The scenario still says the releases, plan options, load and known findings; its nodes
and VIP are replaced by these.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from harness.errors import UserError
from harness.scenario import Node, Scenario

# nova's zero-downtime guide's two nodes: the controller runs everything, the other nodes
# nova-api and nova-compute (the other APIs run on the controller only on devstack).
CONTROLLER_ROLES = ("controller", "api", "compute")
OTHER_ROLES = ("nova-api", "compute")

SCHEMA = {
    "type": "object",
    "required": ["nodes"],
    "additionalProperties": False,
    "properties": {
        "nodes": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "required": ["name", "address"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},
                    "address": {"type": "string", "minLength": 1},
                    "hostname": {"type": "string", "minLength": 1},
                    "roles": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "url": {"type": "string", "pattern": "^[a-z]+://"},
                },
            },
        },
        "vip": {"type": "string", "minLength": 1},
        "nova_port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "cloud": {"type": "string", "minLength": 1},
        "clouds_yaml": {"type": "string", "minLength": 1},
        "user": {"type": "string", "minLength": 1},
    },
}


@dataclass(frozen=True)
class DevstackNode:
    name: str
    address: str
    hostname: str
    roles: tuple[str, ...]
    url: str


@dataclass(frozen=True)
class Site:
    nodes: tuple[DevstackNode, ...]
    vip: str
    nova_port: int = 28774
    cloud: str = "devstack-admin"
    clouds_yaml: str = "/etc/openstack/clouds.yaml"

    @property
    def controller(self) -> DevstackNode:
        return next(n for n in self.nodes if "controller" in n.roles)

    def node(self, name: str) -> DevstackNode:
        return next(n for n in self.nodes if n.name == name)


def load(path: Path) -> Site:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise UserError(f"Cannot read the devstack nodes file {path}: {e.strerror}.") from None
    except yaml.YAMLError as e:
        raise UserError(f"The devstack nodes file {path} is not YAML: {e}.") from None
    return parse(data, path)


def parse(data: object, path: Path) -> Site:
    try:
        jsonschema.validate(data, SCHEMA)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "the top level"
        raise UserError(
            f"The devstack nodes file {path} is invalid at {where}: {e.message}."
        ) from None
    user = data.get("user", "stack")
    nodes = tuple(
        DevstackNode(
            name=n["name"],
            address=n["address"],
            hostname=n.get("hostname", n["name"]),
            roles=tuple(n.get("roles") or (CONTROLLER_ROLES if i == 0 else OTHER_ROLES)),
            url=n.get("url", f"ssh://{user}@{n['address']}?sudo=true"),
        )  # fmt: skip
        for i, n in enumerate(data["nodes"])
    )
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise UserError(f"The devstack nodes file {path} names a node twice.")
    if sum("controller" in n.roles for n in nodes) != 1:
        raise UserError(f"The devstack nodes file {path} must have exactly one controller node.")
    controller = next(n for n in nodes if "controller" in n.roles)
    extra = {k: data[k] for k in ("nova_port", "cloud", "clouds_yaml") if k in data}
    if "cloud" not in extra and os.environ.get("OS_CLOUD"):  # as the openstack client would
        extra["cloud"] = os.environ["OS_CLOUD"]
    return Site(nodes, data.get("vip", controller.address), **extra)


def scenario_on(scenario: Scenario, site: Site) -> Scenario:
    """The scenario with the site's nodes and VIP (releases, plan, load, findings kept).
    With a VIP of its own (the plugin's keepalived), every node running the plugin's
    HAProxy (each nova-api node) is a load balancer, so the VIP failovers are planned."""
    keepalived = site.vip != site.controller.address
    nodes = tuple(Node(n.name, n.address, n.roles) for n in site.nodes)
    if keepalived:
        nodes = tuple(dataclasses.replace(n, roles=(*n.roles, "lb")) if n.serves("nova-api") else n
                      for n in nodes)  # fmt: skip
    network = dataclasses.replace(scenario.network, vip=site.vip, bridge="")
    return dataclasses.replace(scenario, nodes=nodes, network=network)
