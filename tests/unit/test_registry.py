"""One list per kind of thing: the services (harness/services: ORDER), the oracles
(harness/checks/judge.py: ORACLES), the faults (harness/plan/steps.py: FAULTS) and the
backends (harness/backends: NAMES). What cannot import them — the scenario's JSON schema,
the release catalog — is checked against them here: `problems(order)` names each file an
addition forgot (tests/unit/test_adding_a_service.py adds a toy service with it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import scenario
from harness.backends.devstack import units
from harness.backends.registry import NAMES, TARGETS
from harness.checks import judge
from harness.load import ledger
from harness.plan import steps
from harness.releases import catalog, sources
from harness.run import survival
from harness.services import BY_NAME, ORDER

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = "harness/schema/scenario.schema.json"
PROPS = json.loads((ROOT / SCHEMA_FILE).read_text())["properties"]
GENERIC_ROLES = ["controller", "api", "compute", "lb", "network"]


def enum(*path: str) -> list[str]:
    node = PROPS
    for key in path:
        node = node[key]
    return node["enum"]


def problems(order) -> list[str]:
    """What the files outside a service's folder say that the registry `order` does not."""
    found = []
    apis = [s.api.name for s in order if s.api]
    if enum("nodes", "items", "properties", "roles", "items") != GENERIC_ROLES + apis:
        found.append(f"{SCHEMA_FILE}: nodes.roles must be {GENERIC_ROLES + apis}")
    if enum("plan", "properties", "projects", "items") != [s.project for s in order]:
        found.append(f"{SCHEMA_FILE}: plan.projects must be {[s.project for s in order]}")
    if set(catalog.PROJECTS) != {s.package for s in order}:
        found.append("harness/releases/catalog.py: PROJECTS (and every row) must pin "
                     f"{sorted(s.package for s in order)}")  # fmt: skip
    aliases = {s.project: s.package for s in order if s.package != s.project}
    if aliases != sources.ALIASES:
        found.append(f"harness/releases/sources.py: ALIASES must be {aliases}")
    for s in order:  # an old ledger's request names its API process by this convention
        if s.api and s.api.name != s.project + ledger.API_SUFFIX:
            found.append(f"{s.project}: its Api must be named {s.project}-api")
        # the schema oracle compares every database with a fresh install's
        made = {x.database for x in s.schemas if x.command or x.like in s.databases}
        if made != set(s.databases):
            found.append(f"{s.project}: schemas must make each of its databases {s.databases}")
    return found


def test_the_files_outside_the_services_agree_with_the_registry():
    assert problems(ORDER) == []
    assert tuple(s.api.name for s in ORDER if s.api) == scenario.API_ROLES
    assert {s.project: s for s in ORDER} == BY_NAME


def test_the_schemas_oracles_are_the_judges():
    names = [o.NAME for o in judge.ORACLES]
    assert enum("known_findings", "items", "properties", "oracle") == names
    assert enum("selftest", "properties", "expect", "items") == names


def test_the_schemas_faults_are_the_steps():
    actions = enum("plan", "properties", "faults", "items", "properties", "action")
    assert actions == list(steps.FAULTS)
    for action in actions:  # each says what it does
        assert steps.describe_fault(action, "controller", "nova", 1.0)
    with pytest.raises(KeyError):
        steps.describe_fault("no-such-fault", "controller", "nova")


def test_what_the_backends_and_the_run_derive_from_the_registry():
    assert tuple(s.resources for s in ORDER) == survival.PLUGINS
    assert [p.NAME for p in survival.PLUGINS] == [s.project for s in ORDER]
    assert units.tables(ORDER) == (units.UNITS, units.CONFIG, units.FRONTED, units.API_PATHS)
    assert set(units.API_PATHS) == {s.api.name for s in ORDER if s.api}
    assert {"nova-api"} == units.FRONTED
    assert NAMES == ("embedded", "devstack") == tuple(t.name for t in TARGETS.values())


def test_the_docs_name_every_oracle_and_every_services_procedure():
    oracles = (ROOT / "docs" / "oracles.md").read_text()
    assert [o.NAME for o in judge.ORACLES if f"`{o.NAME}`" not in oracles] == []
    readme = (ROOT / "README.md").read_text()
    assert f"with {len(judge.ORACLES)} oracles" in readme.replace("twelve", "12")
    assert [s.project for s in ORDER if f"\n| {s.project} |" not in readme] == []
