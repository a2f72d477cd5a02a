"""Steps: small frozen values, each with `describe()` (how it reads in the plan) and
`run(ctx)` (what it does, through the run's backend: harness/backends). A step returns an
Outcome when it has something to record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.backends import Backend
from harness.plan.events import FAILOVER, EventLog
from harness.services import BY_NAME

# Faults a correct cloud survives at a stated cost (the scenario's `failover` budget,
# harness/checks/failover.py): the VIP holder's HAProxy stopped, or its keepalived killed.
FAILOVERS = ("stop-vip-haproxy", "kill-vip-keepalived")
# The selftest's faults (a scenario's plan.faults; the schema's enum is checked against it).
FAULTS = ("kill-compute-and-delete-queue", "kill-conductor-during-builds",
          "force-down-live-compute", "kill-volume-during-creates", "restart-rabbitmq",
          "single-api", "servers-across-apis", "hold", "kill-dhcp-agent-and-delete-queue",
          *FAILOVERS)  # fmt: skip
# The faults that act on one node: a scenario must name it (plan/wrong.py checks).
NODE_FAULTS = ("kill-compute-and-delete-queue", "force-down-live-compute", "single-api",
               "kill-dhcp-agent-and-delete-queue")  # fmt: skip
BURST = 4  # server builds handed to the conductor at once before it is killed
FORCED = 2  # server builds forced onto a dead compute
VOLUME_BURST = 6  # volume creates handed to cinder-volume at once (its default quota is 10)


@dataclass
class Context:
    """What steps run with: the backend that carries them out (harness/backends) and the
    run's events file (the load's ledger lies beside it; each step's log goes into steps/
    there). `redact` takes the run's secrets out of what a step log keeps; `replay` is the
    command that runs the roll again (its backend, sources and constraints), when known."""

    backend: Backend
    events: EventLog
    redact: Callable[[str], str] = str
    replay: str | None = None


@dataclass(frozen=True)
class Outcome:
    forced_kill: bool = False  # a graceful stop ran out of time and needed SIGKILL
    stop_wait: float | None = None  # seconds from SIGTERM to the process being gone
    finding: str | None = None  # something the operator should know, not a failure


@dataclass(frozen=True)
class Step:
    service: str

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()

    @property
    def node(self) -> str | None:
        return getattr(self, "host", None)

    def describe(self) -> str:
        raise NotImplementedError

    def run(self, ctx: Context) -> Outcome | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Install(Step):
    host: str
    series: str

    def describe(self) -> str:
        return f"install {self.series} on {self.host} (release venv, packaged files; config kept)"

    def run(self, ctx: Context) -> None:
        ctx.backend.install(self.host, self.series)


@dataclass(frozen=True)
class Manage(Step):
    action: str
    series: str

    def describe(self) -> str:
        command = BY_NAME[self.service].actions[self.action].command
        return f"{self.service}: {command} ({self.series} code, on the controller)"

    def run(self, ctx: Context) -> Outcome | None:
        finding = ctx.backend.manage(self.service, self.action, self.series)
        return Outcome(finding=finding) if finding else None


@dataclass(frozen=True)
class SetOption(Step):
    host: str
    section: str
    key: str
    value: str

    def describe(self) -> str:
        return f"{self.service}: set [{self.section}] {self.key} = {self.value} on {self.host}"

    def run(self, ctx: Context) -> None:
        ctx.backend.set_option(self.service, self.host, self.section, self.key, self.value)


@dataclass(frozen=True)
class Restart(Step):
    host: str
    process: str
    series: str
    why: str = ""

    def describe(self) -> str:
        why = f" ({self.why})" if self.why else ""
        return (
            f"{self.process} on {self.host}: graceful stop (SIGTERM, bounded wait, SIGKILL), "
            f"start on {self.series}, wait until ready{why}"
        )

    def run(self, ctx: Context) -> Outcome:
        stop = ctx.backend.restart(self.service, self.host, self.process, self.series)
        return Outcome(forced_kill=stop.forced, stop_wait=stop.waited)


@dataclass(frozen=True)
class Drain(Step):
    host: str

    def describe(self) -> str:
        api = BY_NAME[self.service].api.name
        return f"{api}: drain {self.host} in HAProxy, wait until its sessions reach zero"

    def run(self, ctx: Context) -> None:
        ctx.backend.drain(BY_NAME[self.service].api.name, self.host)


@dataclass(frozen=True)
class Admit(Step):
    ready: tuple[str, ...]
    drain: tuple[str, ...] = ()

    def describe(self) -> str:
        api = BY_NAME[self.service].api.name
        text = f"{api}: set {', '.join(self.ready)} ready"
        if self.drain:
            text += f" and drain {', '.join(self.drain)} in one command (handover)"
        return text

    def run(self, ctx: Context) -> None:
        ctx.backend.admit(BY_NAME[self.service].api.name, self.ready, self.drain)


@dataclass(frozen=True)
class Signal(Step):
    host: str
    process: str
    signal: str = "SIGHUP"

    def describe(self) -> str:
        return f"{self.process} on {self.host}: {self.signal} (drop the cached RPC version cap)"

    def run(self, ctx: Context) -> None:
        ctx.backend.signal(self.host, self.process, self.signal)


@dataclass(frozen=True)
class Disable(Step):
    """Take a compute out of scheduling before it restarts (what operators do)."""

    host: str

    def describe(self) -> str:
        return (
            f"nova-compute on {self.host}: disable in nova (no new builds), wait for the "
            "builds already placed on it"
        )

    def run(self, ctx: Context) -> None:
        ctx.backend.set_compute_enabled(self.host, enabled=False)


@dataclass(frozen=True)
class Enable(Step):
    host: str

    def describe(self) -> str:
        return f"nova-compute on {self.host}: enable in nova"

    def run(self, ctx: Context) -> None:
        ctx.backend.set_compute_enabled(self.host, enabled=True)


@dataclass(frozen=True)
class Fault(Step):
    """A deliberately wrong thing done mid-roll (the selftest catalog; the embedded backend
    does them: harness/backends/embedded/faults.py), never in a correct plan. `target` is
    the project a fault aims at, where it has one."""

    action: str
    host: str | None = None
    target: str | None = None
    seconds: float | None = None
    # A failover's budget, (seconds, failed requests): what the oracles allow it
    budget: tuple[float, int] | None = None

    def describe(self) -> str:
        text = describe_fault(self.action, self.host, self.target, self.seconds)
        return f"FAULT {self.action}: {text}"

    def run(self, ctx: Context) -> None:
        if self.action == "hold":  # nothing is done to the cloud: time passes
            time.sleep(self.seconds)
            return
        ledger = ctx.events.path.parent / "load" / "requests.jsonl"
        measured = ctx.backend.fault(self.action, self.host, self.target, ledger)
        if self.action in FAILOVERS and measured:
            seconds, failed = self.budget or (0.0, 0)
            ctx.events.write(FAILOVER, step=self.describe(), allowed_s=seconds,
                             allowed_failed=failed, **measured)  # fmt: skip


def describe_fault(action: str, node: str | None, service: str | None, seconds=None) -> str:
    return {
        "hold": f"the next step comes {seconds:g} s later; what is in rotation keeps serving"
        if seconds
        else "",
        "kill-compute-and-delete-queue": (
            f"SIGKILL nova-compute on {node}, force {FORCED} builds onto it, delete its queue "
            "with the casts in it, start it again"
        ),
        "kill-dhcp-agent-and-delete-queue": (
            f"SIGKILL neutron-dhcp-agent on {node}, create {FORCED} ports on its network, "
            "delete its queue with the casts in it, start it again"
        ),
        "kill-conductor-during-builds": (
            f"{BURST} builds at once, SIGKILL nova-conductor while it holds them, start it again"
        ),
        "force-down-live-compute": (
            f"nova-compute on {node} marked forced down while it runs, nova-conductor "
            "restarted, unmarked once the conductor chose its compute RPC cap"
        ),
        "kill-volume-during-creates": (
            f"{VOLUME_BURST} volume creates at once, SIGKILL cinder-volume (and its backend's "
            "process) once the first is done, start it again"
        ),
        "restart-rabbitmq": (
            f"{BURST} builds at once, then stop RabbitMQ (SIGTERM) and start it again while "
            "they are in flight"
        ),
        "single-api": (
            f"every {service} API backend but {node}'s in maintenance: one instance behind the VIP"
        ),
        "servers-across-apis": (
            "a server created through each nova-api backend directly, each then shown through "
            "every backend at the latest microversion (what clients behind the VIP meet in turn)"
        ),
        "stop-vip-haproxy": (
            "stop the HAProxy of the node holding the VIP (SIGTERM); keepalived moves the VIP "
            "once its check fails; measured through the VIP; HAProxy started again"
        ),
        "kill-vip-keepalived": (
            "SIGKILL the keepalived of the node holding the VIP (no priority-0 advert: the peer "
            "waits out the master-down timer); measured through the VIP; keepalived started "
            "again, which takes the stale VIP off its node"
        ),
    }[action]
