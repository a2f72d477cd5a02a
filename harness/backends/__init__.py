"""Backends: where a plan's steps are carried out.

A step (harness/plan/steps.py) says *what* happens — restart nova-compute on compute-api
onto 2026.2 — and asks the run's backend to do it. The embedded backend does it to the
cloud the harness brought up in network namespaces; the devstack backend does it to real
devstack nodes over SSH (systemd units, a venv per release, each node's HAProxy). The
plan, the load and the oracles are the same for both: what differs lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: nothing here imports a backend, a service or the plan
    from harness.scenario import Scenario
    from harness.secrets import Secrets


@dataclass(frozen=True)
class Stop:
    """How a graceful stop went: SIGKILL needed after the grace (a finding), and how long
    from the stop request to the process being gone."""

    forced: bool
    waited: float


# node → process → release it runs
Releases = dict[str, dict[str, str]]


class Backend(Protocol):
    name: str

    def install(self, node: str, series: str) -> None:
        """Put `series` on `node` beside what runs there; nothing restarts."""

    def manage(self, service: str, action: str, series: str) -> str | None:
        """A project's management command (DB sync, online migrations) with `series` code,
        on the controller; returns a finding worth reporting, if any."""

    def set_option(self, service: str, node: str, section: str, key: str, value: str) -> None:
        """Set an option in the service's config on `node` (read at the next start)."""

    def restart(self, service: str, node: str, process: str, series: str) -> Stop:
        """Graceful stop, start on `series`, return once it serves again."""

    def drain(self, frontend: str, node: str) -> None:
        """No new requests to `node` behind `frontend`; return once its sessions ended."""

    def admit(self, frontend: str, ready: tuple[str, ...], drain: tuple[str, ...]) -> None:
        """Put `ready` in rotation and drain `drain` in one command; return once the ready
        ones are UP and the drained ones have no sessions."""

    def signal(self, node: str, process: str, sig: str) -> None:
        """Send `sig` (a name such as SIGHUP) to the process."""

    def set_compute_enabled(self, node: str, enabled: bool) -> None:
        """Disable (waiting for builds placed there) or enable the node's nova-compute."""

    def releases(self) -> Releases:
        """What every service process runs now, asked of the nodes."""

    def dump_schemas(self, run_dir: Path) -> bool:
        """Write schema/rolled/<database>.sql (each service database now) and
        schema/fresh/<database>.sql (a fresh install of the target) into the run folder,
        for the schema oracle; False if this backend cannot."""

    def fault(self, action: str, node: str | None, target: str | None,
              ledger: Path) -> dict | None:  # fmt: skip
        """Do a fault (harness/plan/steps.py: FAULTS) to the cloud; builds it makes go into
        the load's `ledger`, so the end-to-end ledger follows them. A VIP failover returns
        what it measured (harness/checks/failover.py reads it)."""


class Broker(Protocol):
    """The cloud's message bus, for the tracer (harness/bus)."""

    def credentials(self) -> dict: ...

    def ctl(self, *args: str) -> str: ...


class CloudView(Protocol):
    """A cloud as the load, the bus tracer, the resources and the smoke test address it:
    through its VIP and its APIs, whoever deployed it."""

    scenario: Scenario
    state_dir: Path
    secrets: Secrets

    @property
    def vip(self) -> str: ...

    @property
    def bridge(self) -> str | None:
        """The bridge that makes the VIP ours (None: the gate's network, nothing to watch)."""

    @property
    def auth_url(self) -> str: ...

    def endpoint(self, project: str) -> str:
        """The base URL of a project's API behind the VIP."""

    def broker(self) -> Broker: ...


class Target(Protocol):
    """Where a run happens: brings the cloud up (or finds it), gives its backend and view,
    checks its hosts, collects its logs, and takes it down."""

    name: str
    trace_bus: bool  # the tracer may switch the broker's firehose on
    scenario: Scenario
    cloud: CloudView | None  # set by up()
    backend: Backend | None  # set by up()

    def up(self) -> CloudView: ...

    def installed(self) -> dict[str, dict[str, str]]:
        """series → project → the version its venv holds, where known (the reports say
        what was rolled; the catalog's versions stand in for the rest)."""

    def pin_facts(self, project: str) -> dict[str, dict]:
        """series → what the project's release says about its automatic RPC cap (its
        service's `pins.facts`, run in that side's venv), where it could be read."""

    def check_hosts(self, plan) -> dict: ...

    def collect_logs(self, dest: Path) -> int: ...

    def down(self) -> None: ...
