"""Scenario files: YAML, validated against schema/scenario.schema.json, then checked for
what a schema cannot say (known releases, one controller, addresses that fit and don't clash).
Every problem is one sentence raised as UserError (exit status 2).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from harness.checks.failover import FailoverBudget
from harness.checks.findings import KnownFinding
from harness.checks.oracles.latency import LatencyBudget
from harness.errors import UserError
from harness.releases import catalog, sides
from harness.releases.sides import Side
from harness.releases.sources import PROJECT_OF
from harness.tempest.control import TempestOptions

SCHEMA = json.loads((Path(__file__).parent / "schema" / "scenario.schema.json").read_text())
# Roles that put one API on a node (role "api" puts all of them): the schema's, which a
# unit test ties to the services' registry (harness/services: each Api's name).
ROLES = tuple(SCHEMA["properties"]["nodes"]["items"]["properties"]["roles"]["items"]["enum"])
API_ROLES = tuple(r for r in ROLES if r.endswith("-api"))


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    roles: tuple[str, ...]

    def has(self, role: str) -> bool:
        return role in self.roles

    def serves(self, api: str) -> bool:
        """Whether the node runs API `api` (e.g. nova-api): role `api` means every API, a
        role named after one API (`nova-api`) just that one — devstack's compute-api node
        runs nova-api alone, and a scenario may leave an API with a single instance."""
        return "api" in self.roles or api in self.roles


@dataclass(frozen=True)
class Network:
    cidr: str
    gateway: str
    vip: str
    bridge: str = "uh-br0"

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.cidr).prefixlen


@dataclass(frozen=True)
class ServiceOptions:
    api_workers: int = 1
    startup_timeout: float = 180.0  # seconds a service may take to become healthy
    # The services' own stop contract, written into their configs: an oslo.service daemon
    # (nova-conductor, -scheduler, -compute) exits by itself this long after SIGTERM
    # whatever it still holds (oslo.service's graceful_shutdown_timeout; its default, 60 s,
    # is longer than the harness waited, so it used to kill them first).
    graceful_shutdown_timeout: int = 20
    # The harness's bound, SIGTERM → SIGKILL: above the services' own, so a SIGKILL means
    # a service broke its contract (a finding), never the harness's impatience.
    stop_timeout: float = 30.0


@dataclass(frozen=True)
class LoadOptions:
    # Four users (3:2:1 version clients, readers, writers) make about 7 requests/s and
    # leave the 2-core machine to the cloud: the load worker uses ~2 % of one core.
    users: int = 4
    user_classes: tuple[str, ...] = ("VersionClient", "Reader", "Writer")
    think_time: tuple[float, float] = (0.2, 0.6)
    request_timeout: float = 30.0
    operation_timeout: float = 120.0
    # Seconds of load before the roll's first step: the latency oracle's baseline.
    baseline: float = 30.0


@dataclass(frozen=True)
class PlanOptions:
    # True: upgraded API nodes stay drained until the last old one is handed over in one
    # command, so old and new never serve side by side. False: each node goes back into
    # rotation as soon as it is upgraded (old and new overlap).
    api_handover: bool = True
    # The order nodes are rolled in: as listed, reversed, or shuffled from the seed.
    node_order: str = "listed"
    # How services drop the RPC version cap they cached while an older compute still ran:
    # "restart" them, or "sighup" them as nova's upgrade guide says. SIGHUP stops the
    # 2026.2 nova-compute and the 2026.1 nova-scheduler (oslo.service threading backends).
    cap_reset: str = "restart"
    # Computes are disabled in nova before they restart, so the scheduler places no build
    # on a compute that is stopping (found by the end-to-end ledger: one placed there was
    # cut off by the stop and went to ERROR).
    disable_computes: bool = True
    # Deliberately wrong procedures, for the selftest catalog (scenarios/negative/; the
    # planner's plan/wrong.py applies them). The defaults are the correct roll.
    projects: tuple[str, ...] | None = None  # roll only these (None: every project)
    drain_apis: bool = True  # false: an API node restarts while HAProxy still sends to it
    rpc_pin: bool = True  # false: no [upgrade_levels] compute=auto while old computes run
    leave_old: tuple[tuple[str, str], ...] = ()  # (node, process) never restarted
    skip_actions: tuple[tuple[str, str], ...] = ()  # (service, action) never run: a contract
    reset_caps: bool = True  # false: no service drops the RPC cap it cached while peers were old
    servers_first: bool = True  # false: agents restart before the servers they report to
    faults: tuple[Fault, ...] = ()


@dataclass(frozen=True)
class Fault:
    """A fault step injected after the last plan step matching `after` (field → value over
    phase, kind, service, node, process)."""

    action: str
    after: tuple[tuple[str, str], ...]
    node: str | None = None
    service: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Expectation:
    """A negative scenario's `selftest:` section: the oracles that must catch it."""

    expect: tuple[str, ...]
    why: str
    evidence: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # oracle → signature
    ci: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    release_from: str
    release_to: str
    network: Network
    nodes: tuple[Node, ...]
    # Each side: its series and any source trees or constraints (harness/releases/sides.py).
    side_from: Side | None = None
    side_to: Side | None = None
    services: ServiceOptions = field(default_factory=ServiceOptions)
    plan: PlanOptions = field(default_factory=PlanOptions)
    load: LoadOptions = field(default_factory=LoadOptions)
    latency: LatencyBudget = field(default_factory=LatencyBudget)
    failover: FailoverBudget = field(default_factory=FailoverBudget)
    tempest: TempestOptions = field(default_factory=TempestOptions)
    seed: int | None = None
    description: str = ""
    known_findings: tuple[KnownFinding, ...] = ()
    selftest: Expectation | None = None

    @property
    def controller(self) -> Node:
        return next(n for n in self.nodes if n.has("controller"))

    @property
    def balancers(self) -> list[Node]:
        """The nodes that run HAProxy: role `lb`, else the controller alone. With two or
        more, keepalived holds the VIP on one of them (VRRP), as nova's guide has it."""
        return self.with_role("lb") or [self.controller]

    @property
    def vrrp(self) -> bool:
        return len(self.balancers) > 1

    def with_role(self, role: str) -> list[Node]:
        return [n for n in self.nodes if n.has(role)]

    def serving(self, api: str) -> list[Node]:
        return [n for n in self.nodes if n.serves(api)]

    def side(self, series: str) -> Side:
        """The side of the roll named `series` (its label: the series' name)."""
        for side in (self.side_from, self.side_to):
            if side is not None and side.name == series:
                return side
        return Side(catalog.get(series))

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise UserError(f"The scenario has no node named {name!r}.")


@dataclass(frozen=True)
class Overrides:
    """The command line's word on the target side: `--source P=PATH`, `--constraints`."""

    sources: tuple[str, ...] = ()
    constraints: Path | None = None

    def apply(self, data: object) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("releases"), dict):
            return data  # the schema says what is wrong with it
        if "to" not in data["releases"]:
            return data
        releases = dict(data["releases"])
        releases["to"] = sides.with_overrides(releases["to"], list(self.sources),
                                              self.constraints, Path.cwd())  # fmt: skip
        return {**data, "releases": releases}


def load(path: str | Path, overrides: Overrides | None = None, sources: bool = True) -> Scenario:
    return read(path, overrides, sources)[1]


def read(path: str | Path, overrides: Overrides | None = None,
         sources: bool = True) -> tuple[object, Scenario]:  # fmt: skip
    """The file's data (kept in the cloud record; with the command line's overrides in it)
    and the validated scenario. `sources=False` leaves the sides' source trees unread (a
    run folder judged again elsewhere, a cloud taken down after its checkout went away)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"Scenario file {path} does not exist.") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"Scenario {path} is not valid YAML{where}.") from None
    data = _extended(sides.absolute(data, path.parent), path)
    if overrides is not None:
        data = overrides.apply(data)
    return data, parse(data, path, sources)


def _extended(data: object, path: Path, seen: tuple[Path, ...] = ()) -> object:
    """`extends: OTHER.yaml` (relative to this file): OTHER's data under this file's — a
    mapping merged key by key, anything else replaced — so that a catalog case states only
    how it differs from the scenario it varies (its nodes, known findings and all)."""
    if not isinstance(data, dict) or "extends" not in data:
        return data
    base_path = (path.parent / str(data["extends"])).resolve()
    if base_path in seen or base_path == path.resolve():
        raise UserError(f"Scenario {path}: extends {data['extends']} in a loop.")
    try:
        base = yaml.safe_load(base_path.read_text())
    except (OSError, yaml.YAMLError):
        raise UserError(f"Scenario {path}: extends {data['extends']}, which cannot be "
                        "read as YAML.") from None  # fmt: skip
    base = _extended(sides.absolute(base, base_path.parent), base_path, (*seen, path.resolve()))
    if not isinstance(base, dict):
        raise UserError(f"Scenario {path}: extends {data['extends']}, which is no scenario.")
    rest = {k: v for k, v in data.items() if k != "extends"}
    return _merge(base, rest)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
    return out


def parse(data: object, path: Path, sources: bool = True) -> Scenario:
    _validate_schema(data, path)
    net = Network(**data["network"])
    nodes = tuple(Node(n["name"], n["address"], tuple(n["roles"])) for n in data["nodes"])
    side_from = sides.from_data(data["releases"]["from"], path.parent, sources)
    side_to = sides.from_data(data["releases"]["to"], path.parent, sources)
    scenario = Scenario(
        name=data["name"],
        path=path,
        release_from=side_from.name,
        release_to=side_to.name,
        network=net,
        nodes=nodes,
        side_from=side_from,
        side_to=side_to,
        services=_service_options(data.get("services", {}), path),
        plan=_plan_options(data.get("plan", {})),
        load=_load_options(data.get("load", {}), path),
        latency=LatencyBudget(**data.get("latency", {})),
        failover=FailoverBudget(**data.get("failover", {})),
        tempest=_tempest_options(data.get("tempest", {}), path),
        seed=data.get("seed"),
        description=data.get("description", ""),
        known_findings=_known_findings(data.get("known_findings", []), path),
        selftest=_expectation(data.get("selftest"), path),
    )
    _check_releases(scenario)
    _check_sources(scenario)
    _check_nodes(scenario)
    _check_addresses(scenario)
    return scenario


def _plan_options(data: dict) -> PlanOptions:
    data = dict(data)
    if "projects" in data:
        data["projects"] = tuple(data["projects"])
    data["leave_old"] = tuple((p["node"], p["process"]) for p in data.get("leave_old", []))
    data["skip_actions"] = tuple(tuple(a.split("/", 1)) for a in data.get("skip_actions", []))
    data["faults"] = tuple(
        Fault(
            f["action"],
            tuple(sorted(f["after"].items())),
            f.get("node"),
            f.get("service"),
            f.get("seconds"),
        )  # fmt: skip
        for f in data.get("faults", [])
    )
    return PlanOptions(**data)


def _expectation(data: dict | None, path: Path) -> Expectation | None:
    if data is None:
        return None
    evidence = data.get("evidence", {})
    for oracle, signature in evidence.items():
        if oracle not in data["expect"]:
            raise UserError(
                f"Scenario {path}: selftest.evidence names {oracle!r}, which it does not expect."
            )
        for pattern in signature.values():
            _compile(pattern, path, f"selftest.evidence.{oracle}")
    return Expectation(
        tuple(data["expect"]), data["why"],
        tuple((o, tuple(sorted(sig.items()))) for o, sig in sorted(evidence.items())),
        data.get("ci", False),
    )  # fmt: skip


def _compile(pattern: str, path: Path, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as e:
        raise UserError(
            f"Scenario {path}: {where}: {pattern!r} is not a regular expression ({e})."
        ) from None


def _service_options(data: dict, path: Path) -> ServiceOptions:
    options = ServiceOptions(**data)
    if options.stop_timeout <= options.graceful_shutdown_timeout:
        raise UserError(
            f"Scenario {path}: services.stop_timeout ({options.stop_timeout:g} s) must exceed "
            f"services.graceful_shutdown_timeout ({options.graceful_shutdown_timeout} s), or "
            "the harness would kill services before their own bound."
        )
    return options


def _load_options(data: dict, path: Path) -> LoadOptions:
    options = LoadOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    low, high = options.think_time
    if low > high:
        raise UserError(f"Scenario {path}: load.think_time [{low:g}, {high:g}] is not [min, max].")
    return options


def _tempest_options(data: dict, path: Path) -> TempestOptions:
    try:
        re.compile(data.get("regex", ""))
    except re.error as e:
        raise UserError(f"Scenario {path}: tempest.regex: {e}.") from None
    return TempestOptions(**data)


def _known_findings(items: list[dict], path: Path) -> tuple[KnownFinding, ...]:
    for i, item in enumerate(items, 1):
        for name, pattern in item["match"].items():
            try:
                re.compile(pattern)
            except re.error as e:
                raise UserError(
                    f"Scenario {path}: known finding {i}, match {name!r}: {pattern!r} is not "
                    f"a regular expression ({e})."
                ) from None
    return tuple(
        KnownFinding(k["oracle"], k["reason"], tuple(sorted(k["match"].items()))) for k in items
    )


def _validate_schema(data: object, path: Path) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    e = errors[0]
    if e.validator == "oneOf" and e.context:  # a side: a series name, or {series, sources}
        branch = 1 if isinstance(e.instance, dict) else 0
        e = (
            jsonschema.exceptions.best_match(
                [c for c in e.context if c.schema_path and c.schema_path[0] == branch]
            )
            or e
        )
    where = ".".join(str(p) for p in e.absolute_path) or "the top level"
    if e.validator == "additionalProperties":
        unknown = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        raise UserError(f"Scenario {path}: unknown key {unknown[0]!r} in {where}.")
    if e.validator == "required":
        raise UserError(f"Scenario {path}: {e.message} in {where}.")
    raise UserError(f"Scenario {path}: {where}: {e.message}.")


def _check_releases(s: Scenario) -> None:
    names = list(catalog.CATALOG)
    if not catalog.is_catalogued(s.release_from):
        raise UserError(f"Scenario {s.path}: release 'from' ({s.release_from}) must be a "
                        f"catalogued release ({', '.join(names)}).")  # fmt: skip
    # A target the catalog does not list yet (master) is newer than every release.
    to = names.index(s.release_to) if catalog.is_catalogued(s.release_to) else len(names)
    if to <= names.index(s.release_from):
        raise UserError(
            f"Scenario {s.path}: release 'to' ({s.release_to}) must be newer than "
            f"'from' ({s.release_from})."
        )


def _check_sources(s: Scenario) -> None:
    """A source for a project the scenario does not roll would never run: say so."""
    rolled = s.plan.projects
    for side in (s.side_from, s.side_to):
        for src in side.sources:
            service = PROJECT_OF.get(src.project, src.project)
            if rolled is not None and service not in rolled:
                raise UserError(f"Scenario {s.path}: a source is given for {service}, which "
                                f"the scenario does not roll (plan.projects: "
                                f"{', '.join(rolled) or 'none'}).")  # fmt: skip


def _check_nodes(s: Scenario) -> None:
    names = [n.name for n in s.nodes]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise UserError(f"Scenario {s.path}: node name {sorted(dup)[0]!r} is used twice.")
    controllers = s.with_role("controller")
    if len(controllers) != 1:
        raise UserError(
            f"Scenario {s.path}: exactly one node must have the 'controller' role, "
            f"found {len(controllers)}."
        )
    if not s.with_role("compute"):
        raise UserError(f"Scenario {s.path}: at least one node needs the 'compute' role.")
    for api in API_ROLES:
        if not s.serving(api):
            raise UserError(
                f"Scenario {s.path}: no node runs {api} (give one the 'api' or '{api}' role)."
            )


def _check_addresses(s: Scenario) -> None:
    try:
        net = ipaddress.ip_network(s.network.cidr)
    except ValueError:
        raise UserError(
            f"Scenario {s.path}: network.cidr {s.network.cidr!r} is not a network."
        ) from None
    if net.version != 4 or net.prefixlen > 29:
        raise UserError(
            f"Scenario {s.path}: network.cidr must be an IPv4 network of /29 or larger."
        )
    owners = [("network.gateway", s.network.gateway), ("network.vip", s.network.vip)]
    owners += [(f"node {n.name}", n.address) for n in s.nodes]
    seen: dict[ipaddress.IPv4Address, str] = {}
    for owner, text in owners:
        addr = _address(s, owner, text)
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            raise UserError(f"Scenario {s.path}: {owner} address {text} is not a host of {net}.")
        if addr in seen:
            raise UserError(f"Scenario {s.path}: {owner} and {seen[addr]} both use address {text}.")
        seen[addr] = owner


def _address(s: Scenario, owner: str, text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise UserError(
            f"Scenario {s.path}: {owner} address {text!r} is not an IPv4 address."
        ) from None
