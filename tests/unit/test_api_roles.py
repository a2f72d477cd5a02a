"""Per-API roles: a node may run one API alone (devstack's compute-api runs nova-api only;
a scenario may leave placement with a single instance). The plan, HAProxy's servers and
the processes per node follow the roles."""

from pathlib import Path

import pytest
import yaml

from harness import scenario
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy
from harness.errors import UserError
from harness.plan import planner
from harness.plan import steps as st
from harness.services import BY_NAME

ROOT = Path(__file__).resolve().parents[2]


def variant(tmp_path, roles: list[str]) -> scenario.Scenario:
    doc = yaml.safe_load((ROOT / "scenarios" / "nova-rolling.yaml").read_text())
    doc["nodes"][1]["roles"] = roles
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return scenario.load(path)


def test_placement_on_the_controller_only_is_rolled_without_a_second_instance(tmp_path):
    s = variant(tmp_path, ["keystone-api", "glance-api", "neutron-api", "nova-api", "compute"])
    plan = planner.build(s, 1)
    placement = next(p for p in plan.phases if p.name == "placement").steps
    drains = [x.host for x in placement if isinstance(x, st.Drain)]
    restarts = [x.host for x in placement if isinstance(x, st.Restart)]
    assert drains == ["controller"] and restarts == ["controller"]
    nova = next(p for p in plan.phases if p.name == "nova").steps
    assert {x.host for x in nova if isinstance(x, st.Restart) and x.process == "nova-api"} == {
        "controller", "compute-api"}  # fmt: skip
    cfg = haproxy.render(Cloud(s, tmp_path), "controller", [BY_NAME[p].api for p in BY_NAME])
    placement_block = cfg.split("listen placement-api")[1].split("listen ")[0]
    assert "server controller" in placement_block and "compute-api" not in placement_block
    assert "server compute-api" in cfg.split("listen nova-api")[1]
    node = s.node("compute-api")
    assert BY_NAME["nova"].processes(node) == ["nova-api", "nova-compute"]
    assert BY_NAME["placement"].processes(node) == []


def test_every_api_needs_a_node(tmp_path):
    doc = yaml.safe_load((ROOT / "scenarios" / "nova-rolling.yaml").read_text())
    doc["nodes"][0]["roles"] = ["controller", "compute", "nova-api"]
    doc["nodes"][1]["roles"] = ["compute", "nova-api", "glance-api", "neutron-api", "placement-api"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(UserError, match="no node runs keystone-api"):
        scenario.load(path)
