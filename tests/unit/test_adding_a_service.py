"""docs/adding-a-service.md is true: its Python blocks, run as written, make a service the
planner rolls in the upstream order, the devstack backend renders, the resource survival
would run, and the registry check asks for exactly the files the page lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import scenario
from harness.backends.devstack import units
from harness.plan import planner
from harness.plan import steps as st
from harness.services import BY_NAME, ORDER
from harness.services.base import Service

from .test_registry import problems

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adding-a-service.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


@pytest.fixture
def toy(monkeypatch):
    namespace: dict = {}
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) == 2, "the page shows the resource plugin and the service"
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    service = namespace["Toy"]()
    monkeypatch.setitem(BY_NAME, service.project, service)  # the registry line, for the test
    return service


def test_the_pages_service_is_a_service_with_a_resource_plugin(toy):
    assert isinstance(toy, Service) and toy.package == "openstack-toy"
    plugin = toy.resources
    assert toy.project == plugin.NAME
    state = plugin.create(None, None)
    assert plugin.verify(None, None, state) == [] and plugin.destroy(None, None, state) is None


def test_the_planner_rolls_it_after_the_others_in_the_upstream_order(toy):
    s = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml")
    plan = planner.build(s, 42, (*ORDER, toy))
    assert [p.name for p in plan.phases][-1] == "toy"
    steps = plan.phases[-1].steps
    api_nodes = [n.name for n in s.nodes if n.serves("toy-api")]
    assert [type(x).__name__ for x in steps] == [
        "Manage", "Drain", "Restart", "Admit", "Restart", "Admit", "Manage"]  # fmt: skip
    assert [x.host for x in steps if isinstance(x, st.Restart)] == api_nodes
    assert (steps[0].action, steps[-1].action) == ("expand", "online-migrations")
    assert "toy-manage db expand" in steps[0].describe()
    # the other services' plan is the one they had without it (an RNG per service)
    assert planner.build(s, 42).phases == plan.phases[:-1]


def test_the_devstack_backend_renders_its_steps(toy, monkeypatch):
    names, configs, fronted, paths = units.tables((*ORDER, toy))
    assert names["toy-api"] == "toy-api" and paths["toy-api"] == "/toy"
    monkeypatch.setattr(units, "UNITS", names)
    s = scenario.load(ROOT / "scenarios" / "nova-rolling.yaml")
    layout = units.Layout()
    restart = st.Restart("toy", "compute-api", "toy-api", s.release_to)
    commands = " ".join(c.command for c in units.commands(restart, layout, "controller"))
    assert "devstack@toy-api.service" in commands
    manage = units.commands(st.Manage("toy", "expand", s.release_to), layout, "controller")
    assert manage[0].command.endswith(f"{layout.venv(s.release_to)}/bin/toy-manage db expand")
    option = st.SetOption("toy", "controller", "database", "max_retries", "3")
    assert "iniset /etc/toy/toy.conf database max_retries 3" in units.commands(
        option, layout, "controller")[0].command  # fmt: skip


def test_the_registry_check_asks_for_the_files_the_page_lists(toy):
    found = problems((*ORDER, toy))
    files = sorted({p.split(":")[0] for p in found})
    assert files == ["harness/releases/catalog.py", "harness/releases/sources.py",
                     "harness/schema/scenario.schema.json"]  # fmt: skip
    assert len(found) == 4  # the schema's roles and projects, the catalog, the aliases
    text = DOC.read_text()
    assert all(f"`{f}`" in text for f in files)
