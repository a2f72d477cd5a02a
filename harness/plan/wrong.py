"""Deliberately wrong procedures, for the selftest catalog (scenarios/negative/): the
scenario's wrong options applied to the correct plan the services laid out.

Each is a change a careless operator could make: skip the drain, skip the RPC pin, forget
a process, skip a management command (a contract), roll only some projects, or something
breaking mid-roll (a fault step). The defaults change nothing, so the correct plan stays
the services' own. A VIP failover (steps.FAILOVERS) is a fault too, but one a correct cloud
survives at the cost its scenario states: the default scenario has two.
"""

from __future__ import annotations

from dataclasses import replace

from harness.errors import UserError
from harness.plan import steps as st
from harness.scenario import Fault, PlanOptions, Scenario
from harness.services import BY_NAME, UPGRADED_AFTER

RPC_PIN = BY_NAME["nova"].rpc_pin[:2]  # (section, key)


def rolled(scenario: Scenario, project: str) -> bool:
    projects = scenario.plan.projects
    return projects is None or project in projects


def apply(scenario: Scenario, phases: list[tuple[str, list[st.Step]]]) -> list:
    """The phases (name, steps) with the scenario's wrong options applied."""
    _check_nodes(scenario)
    out = [(name, [s for s in steps if _kept(scenario.plan, s)]) for name, steps in phases]
    if not scenario.plan.servers_first:
        out = [(name, _agents_first(steps)) for name, steps in out]
    for fault in scenario.plan.faults:
        if fault.action not in st.FAILOVERS or (scenario.vrrp and _anchored(scenario, fault)):
            out = _insert(out, fault, scenario)
    return out


def _anchored(scenario: Scenario, fault: Fault) -> bool:
    """False for a failover after a project's phase the scenario does not roll: the
    default scenario's failovers, inherited by a catalog case that rolls only some
    projects (the plan's header says which it does)."""
    phase = dict(fault.after).get("phase")
    return phase not in BY_NAME or rolled(scenario, phase)


def corrected(scenario: Scenario) -> Scenario:
    """The scenario without its wrong options: what a correct roll would have left on the
    nodes, which is what the host checks compare them with."""
    right = PlanOptions()
    fixed = {f: getattr(right, f) for f in ("projects", "drain_apis", "rpc_pin", "leave_old",
                                             "skip_actions", "reset_caps", "servers_first",
                                             "faults")}  # fmt: skip
    return replace(scenario, plan=replace(scenario.plan, **fixed))


def describe(options: PlanOptions) -> str:
    """The wrong options that differ from the correct roll, for the plan's header."""
    parts = []
    if options.projects is not None:
        parts.append(f"projects={','.join(options.projects) or 'none'}")
    if not options.drain_apis:
        parts.append("drain_apis=false")
    if not options.rpc_pin:
        parts.append("rpc_pin=false")
    if not options.reset_caps:
        parts.append("reset_caps=false")
    if not options.servers_first:
        parts.append("servers_first=false")
    parts += [f"leave_old={node}/{process}" for node, process in options.leave_old]
    parts += [f"skip={service}/{action}" for service, action in options.skip_actions]
    parts += [f"fault={f.action}" for f in options.faults if f.action not in st.FAILOVERS]
    return " ".join(parts)


def failovers(scenario: Scenario) -> str:
    """The VIP failovers the plan does and what each may cost, for the plan's header."""
    faults = [f for f in scenario.plan.faults if f.action in st.FAILOVERS]
    if not faults:
        return ""
    actions = [f.action for f in faults]
    if not scenario.vrrp:  # inherited from the default scenario by a cloud with one HAProxy
        return f"none ({', '.join(actions)} need two nodes with the 'lb' role)"
    actions = [f.action for f in faults if _anchored(scenario, f)]
    if not actions:
        return "none (each comes after a project this plan does not roll)"
    budget = scenario.failover
    return (f"{', '.join(actions)}; each may cost {budget.max_seconds:g} s of the VIP and "
            f"{budget.max_failed_requests} failed requests")  # fmt: skip


def _kept(options: PlanOptions, step: st.Step) -> bool:
    if not options.drain_apis and isinstance(step, (st.Drain, st.Admit)):
        return False  # restarted in place: HAProxy keeps sending to it until its check fails
    if (
        not options.rpc_pin
        and isinstance(step, st.SetOption)
        and (step.section, step.key) == RPC_PIN
    ):
        return False
    if isinstance(step, st.Manage) and (step.service, step.action) in options.skip_actions:
        return False
    if options.leave_old and isinstance(step, (st.Restart, st.Disable, st.Enable)):
        process = getattr(step, "process", "nova-compute")
        if (step.host, process) in options.leave_old:
            return False
    return True


def _agents_first(steps: list[st.Step]) -> list[st.Step]:
    """The restarts of the processes a guide wants after their servers
    (Service.upgraded_after), moved before the first restart of those servers."""
    agents = [s for s in steps if isinstance(s, st.Restart) and s.process in UPGRADED_AFTER]
    servers = {q for s in agents for q in UPGRADED_AFTER[s.process]}
    rest = [s for s in steps if s not in agents]
    at = next((i for i, s in enumerate(rest) if getattr(s, "process", None) in servers), None)
    if not agents or at is None:
        return steps
    # the servers' drain comes just before their restart: the agents go before that
    while at > 0 and isinstance(rest[at - 1], (st.Drain, st.Admit)):
        at -= 1
    return rest[:at] + agents + rest[at:]


def _fields(phase: str, step: st.Step) -> dict[str, str | None]:
    node = ",".join(step.ready) if isinstance(step, st.Admit) else step.node
    return {"phase": phase, "kind": step.kind, "service": step.service, "node": node,
            "process": getattr(step, "process", None)}  # fmt: skip


def _insert(phases: list, fault: Fault, scenario: Scenario) -> list:
    where = None
    for i, (name, steps) in enumerate(phases):
        for j, step in enumerate(steps):
            fields = _fields(name, step)
            if all(fields.get(k) == v for k, v in fault.after):
                where = (i, j)
    if where is None:
        after = ", ".join(f"{k}={v}" for k, v in fault.after)
        raise UserError(
            f"Scenario {scenario.path}: fault {fault.action} comes after {after}, "
            "which matches no step of the plan."
        )
    i, j = where
    name, steps = phases[i]
    budget = None
    if fault.action in st.FAILOVERS:
        budget = (scenario.failover.max_seconds, scenario.failover.max_failed_requests)
    step = st.Fault(fault.service or "fault", fault.action, fault.node, fault.service,
                    fault.seconds, budget)  # fmt: skip
    return phases[:i] + [(name, steps[: j + 1] + [step] + steps[j + 1 :])] + phases[i + 1 :]


def _check_nodes(scenario: Scenario) -> None:
    names = {n.name for n in scenario.nodes}
    used = [node for node, _ in scenario.plan.leave_old]
    used += [f.node for f in scenario.plan.faults if f.node]
    for f in scenario.plan.faults:
        if f.action in st.NODE_FAULTS and not f.node:
            raise UserError(f"Scenario {scenario.path}: fault {f.action} needs the node it "
                            "acts on (`node`).")  # fmt: skip
    for node in used:
        if node not in names:
            raise UserError(
                f"Scenario {scenario.path}: plan names node {node!r}, which it has not."
            )
    for service, action in scenario.plan.skip_actions:
        svc = BY_NAME.get(service)
        if svc is None or action not in svc.actions:
            raise UserError(f"Scenario {scenario.path}: plan.skip_actions names "
                            f"{service}/{action}, which no service has.")  # fmt: skip
    for f in scenario.plan.faults:
        if (f.action == "hold") != (f.seconds is not None):
            raise UserError(
                f"Scenario {scenario.path}: `seconds` is for a hold fault, and needed by it."
            )
        if f.action == "single-api" and f.service not in BY_NAME:
            raise UserError(
                f"Scenario {scenario.path}: fault single-api needs `service`, one of "
                f"{', '.join(BY_NAME)}."
            )
