"""The planner: scenario + seed → Plan. Pure: it reads the scenario and touches nothing.

Each service module describes its own rolling procedure through the small Builder API
below (`Service.roll(builder)`), so the upstream order for a project lives with the project.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.plan import steps as st
from harness.plan import wrong
from harness.releases import sources
from harness.scenario import Scenario
from harness.services import ORDER, Service


@dataclass(frozen=True)
class Phase:
    name: str
    steps: tuple[st.Step, ...]


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    seed: int
    phases: tuple[Phase, ...]

    def numbered(self):
        """(id, phase, step) in execution order; ids read like 3.2 (phase 3, step 2)."""
        for i, phase in enumerate(self.phases, 1):
            for j, step in enumerate(phase.steps, 1):
                yield f"{i}.{j}", phase, step

    def __len__(self) -> int:
        return sum(len(p.steps) for p in self.phases)


class Builder:
    """What a service module may ask for when it lays out its roll."""

    def __init__(self, scenario: Scenario, service: str, rng: random.Random):
        self.scenario = scenario
        self.service = service
        self.target = scenario.release_to
        self._rng = rng

    def ordered(self, role: str | None = None) -> list[str]:
        """Nodes with `role` (or serving the API of that name), in the scenario's order."""
        nodes = [
            n.name
            for n in self.scenario.nodes
            if role is None or n.has(role) or (role.endswith("-api") and n.serves(role))
        ]
        order = self.scenario.plan.node_order
        if order == "reversed":
            nodes.reverse()
        elif order == "random":
            self._rng.shuffle(nodes)
        return nodes

    def manage(self, action: str, series: str | None = None) -> st.Manage:
        """An upgrade action, with the target's code unless `series` says otherwise."""
        return st.Manage(self.service, action, series or self.target)

    def restart(self, node: str, process: str, why: str = "") -> st.Restart:
        return st.Restart(self.service, node, process, self.target, why)

    def compute_restart(self, node: str, why: str = "") -> list[st.Step]:
        """A compute restarted out of scheduling: disabled first (unless the scenario says
        not to), so no build is cut off by the stop, and enabled once it is back."""
        restart = self.restart(node, "nova-compute", why)
        if not self.scenario.plan.disable_computes:
            return [restart]
        return [st.Disable(self.service, node), restart, st.Enable(self.service, node)]

    def signal(self, node: str, process: str, sig: str = "SIGHUP") -> st.Signal:
        return st.Signal(self.service, node, process, sig)

    def set_option(self, node: str, section: str, key: str, value: str) -> st.SetOption:
        return st.SetOption(self.service, node, section, key, value)

    def api_roll(self, api: str) -> list[st.Step]:
        """The API on every API node, one node at a time, the VIP never without a backend.

        Handover: every node but the last is upgraded and left drained; then one command
        admits them all and drains the last old one; then the last is upgraded and admitted.
        Overlap: each node is admitted again as soon as it is upgraded."""
        nodes = self.ordered(api)
        handover = self.scenario.plan.api_handover and len(nodes) > 1
        out: list[st.Step] = []
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            if handover and last:
                out.append(st.Admit(self.service, tuple(nodes[:-1]), (node,)))
            else:
                out.append(st.Drain(self.service, node))
            out.append(self.restart(node, api))
            if not handover or last:
                out.append(st.Admit(self.service, (node,)))
        return out


def build(scenario: Scenario, seed: int, services: tuple[Service, ...] = ORDER) -> Plan:
    """The plan: install everywhere, then each of `services` (the registry) in turn."""
    target = scenario.release_to
    install = [st.Install("all", n.name, target) for n in scenario.nodes]
    phases = [("install", install)]
    for svc in services:
        # An RNG per service: adding a service (or a step to one) leaves the others' random
        # node orders as they were for the same seed.
        rng = random.Random(f"{seed}/{svc.project}")
        steps = svc.roll(Builder(scenario, svc.project, rng))
        if wrong.rolled(scenario, svc.project):
            phases.append((svc.project, steps))
    phases = wrong.apply(scenario, phases)
    return Plan(scenario, seed, tuple(Phase(name, tuple(steps)) for name, steps in phases))


def render(plan: Plan) -> str:
    s = plan.scenario
    nodes = "; ".join(f"{n.name} {n.address} [{', '.join(n.roles)}]" for n in s.nodes)
    lines = [
        f"plan for scenario {s.name}: {s.release_from} -> {s.release_to}, seed {plan.seed}",
        f"nodes: {nodes}",
        f"options: api_handover={str(s.plan.api_handover).lower()} "
        f"node_order={s.plan.node_order} cap_reset={s.plan.cap_reset} "
        f"disable_computes={str(s.plan.disable_computes).lower()} "
        f"graceful_shutdown_timeout={s.services.graceful_shutdown_timeout}s "
        f"stop_timeout={s.services.stop_timeout:g}s",
        f"{len(plan)} steps",
    ]
    for key, side in (("from", s.side_from), ("to", s.side_to)):
        for src in side.sources if side else ():
            lines.insert(
                2, f"{key} {side.name}: {src.project} from {sources.describe(src.record())}"
            )
        if side and side.constraints:
            lines.insert(2, f"{key} {side.name}: constraints {side.constraints.path}")
    if wrong.describe(s.plan):  # a negative scenario says so before anything else
        lines.insert(3, f"deliberately wrong: {wrong.describe(s.plan)}")
    if wrong.failovers(s):
        lines.insert(3, f"VIP failovers: {wrong.failovers(s)}")
    for i, phase in enumerate(plan.phases, 1):
        last_phase = i == len(plan.phases)
        lines.append(f"{'└──' if last_phase else '├──'} {i} {phase.name}")
        for j, step in enumerate(phase.steps, 1):
            branch = "└──" if j == len(phase.steps) else "├──"
            lines.append(f"{'    ' if last_phase else '│   '}{branch} {i}.{j} {step.describe()}")
    return "\n".join(lines) + "\n"
