"""A run's devstack target: the nodes from the nodes file reached through testinfra, the
devstack backend, host checks and logs asked of the nodes. Nothing is brought up or
taken down — devstack deployed the cloud and the gate throws the nodes away.

The bus is traced as on the embedded cloud: the tracer connects with nova's own
credentials (its transport_url), rabbitmqctl runs on the controller, and `up` enables
RabbitMQ's event-exchange plugin there (queue created/deleted events).
"""

from __future__ import annotations

import configparser
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from harness import scenario as scenario_mod
from harness.backends import openstack_api
from harness.backends.devstack import nodes as devstack_nodes
from harness.backends.devstack import units as ds
from harness.backends.devstack.backend import (
    Devstack,
    DevstackCloud,
    admin_credentials,
    hosts_for,
    transport_url,
)
from harness.backends.hostcheck import UNSET, UP, Check, expected_options, probe
from harness.errors import UserError
from harness.progress import log
from harness.scenario import Node
from harness.secrets import redact


class DevstackTarget:
    name = "devstack"
    trace_bus = True

    def __init__(self, scenario, nodes_file: Path, state_dir: Path):
        self.site = devstack_nodes.load(nodes_file)
        self.scenario = devstack_nodes.scenario_on(scenario, self.site)
        self.state_dir = state_dir
        self.hosts = hosts_for(self.site)
        self.cloud: DevstackCloud | None = None
        self.backend: Devstack | None = None
        self.started = time.time()

    @classmethod
    def open(cls, scenario_path: Path, state_dir: Path, cache_dir: Path, nodes: Path | None,
             overrides=None) -> DevstackTarget:  # fmt: skip
        if nodes is None:
            raise UserError("The devstack backend needs --nodes (the devstack nodes file).")
        s = scenario_mod.load(scenario_path, overrides)
        _check_sources(s)
        return cls(s, nodes, state_dir)

    def installed(self) -> dict[str, dict[str, str]]:
        """As read on the nodes: devstack's venv for the old side, Layout.venv once
        installed for the new."""
        return dict(self.backend.installed) if self.backend else {}

    def pin_facts(self, project: str) -> dict[str, dict]:
        """As read on the nodes, in the venvs installed() reads."""
        return dict(self.backend.pin_facts.get(project, {})) if self.backend else {}

    def up(self) -> DevstackCloud:
        """Reach every node, read devstack's admin credentials: the cloud is already up."""
        for name, host in self.hosts.items():
            try:
                out = host.run("systemctl is-system-running || true")
            except Exception as e:  # testinfra raises what SSH said
                raise UserError(f"Cannot reach devstack node {name} ({e}).") from None
            log.info("devstack node %s: reached (%s)", name, out.stdout.strip() or "?")
        controller = self.hosts[self.site.controller.name]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        admin = admin_credentials(self.site, controller, self.state_dir)
        self.cloud = DevstackCloud(self.scenario, self.site, self.state_dir, admin)
        self.cloud.use_broker(controller, transport_url(controller))
        # Queue created/deleted events for the bus ledger (idempotent).
        out = controller.run("rabbitmq-plugins enable rabbitmq_event_exchange")
        if out.rc != 0:
            raise UserError(
                "Cannot enable RabbitMQ's event exchange on the controller "
                f"(rabbitmq-plugins exited {out.rc}: {out.stderr.strip()[-200:]})."
            )
        self.backend = Devstack(self.scenario, self.site, self.hosts,
                                lambda: openstack_api.admin(self.cloud),
                                broker=self.cloud.broker())  # fmt: skip
        self.backend.read_deployed()  # the old side; the new one's as each node installs it
        return self.cloud

    def check_hosts(self, plan) -> dict:
        target = plan.scenario.release_to
        options = expected_options(plan)
        started = time.time()
        nodes = self.scenario.nodes
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            per_node = list(pool.map(lambda n: self.check_node(n, target, options), nodes))
        return {
            "target": target,
            "started": round(started, 3),
            "duration": round(time.time() - started, 3),
            "hosts": {n.name: self.site.node(n.name).url for n in nodes},
            "checks": [asdict(c) for checks in per_node for c in checks],
        }

    def check_node(self, node: Node, target: str, options) -> list[Check]:
        releases = self.backend.node_releases(node.name)
        units = self.units_on(node.name)
        checks = [
            Check(
                node.name,
                f"release {p}",
                target,
                releases.get(p, "unknown"),
                releases.get(p) == target,
            )  # fmt: skip
            for p in units
        ]
        checks += self.config(node, options)
        if node.serves("nova-api"):
            stats = self.backend.stats
            checks += [
                probe(
                    node,
                    f"backend nova-api/{server}",
                    UP,
                    lambda s=server: stats(node.name)[("nova-api", s)]["status"],
                )  # fmt: skip
                for server in self.backend.api_nodes()
            ]
        return checks

    def units_on(self, node: str) -> list[str]:
        """The processes whose devstack@ unit exists on the node."""
        script = " ".join(
            f"systemctl cat {ds.unit(p)} >/dev/null 2>&1 && echo {p};" for p in ds.UNITS
        )
        return self.backend.run(node, script + " true").split()

    def config(self, node: Node, options) -> list[Check]:
        host = self.hosts[node.name]

        def read(service: str, section: str, key: str) -> str:
            parser = configparser.RawConfigParser(interpolation=None, strict=False)
            parser.optionxform = str
            parser.read_string(host.file(ds.CONFIG[service]).content_string)
            return parser.get(section, key) if parser.has_option(section, key) else UNSET

        return [
            probe(node, f"config {svc} [{section}] {key}", value, read, svc, section, key)
            for (name, svc, section, key), value in sorted(options.items())
            if name == node.name
        ]

    def collect_logs(self, dest: Path) -> int:
        """Each devstack unit's journal since the run began, per node, redacted."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started - 60))
        secrets = self.cloud.secrets.values() if self.cloud else []
        count = 0
        for node in self.scenario.nodes:
            for process in self.units_on(node.name):
                unit = ds.unit(process)
                out = self.hosts[node.name].run(
                    "journalctl -u %s --since %s --no-pager -o short-iso", unit, since
                )
                path = dest / node.name / f"{process}.log"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(redact(out.stdout, secrets))
                count += 1
        return count

    def down(self) -> None:
        """Nothing to take down: the release venvs stay for a next run on the same nodes."""


def _check_sources(s) -> None:
    """A source on devstack nodes is a checkout each node has at the path given (as Zuul
    and devstack lay them out), installed into the release venv there."""
    for side in (s.side_from, s.side_to):
        for src in side.sources:
            if src.patch:
                raise UserError(f"A patched source ({src.project}) is built on this machine "
                                "only; on devstack nodes give a checkout they have.")  # fmt: skip
            if src.version:
                raise UserError(f"On devstack nodes a source is versioned by its git checkout; "
                                f"drop the @{src.version} of {src.project}'s source.")  # fmt: skip
