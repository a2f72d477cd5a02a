"""What the devstack backend would run for each step of the default plan: systemd units
devstack@<name>, the release's own venv, devstack's iniset, the plugin's admin socket."""

import pytest

from harness import scenario
from harness.backends.devstack import units
from harness.plan import planner
from harness.plan import steps as st

from .test_planner import DEFAULT

PLAN = planner.build(scenario.load(DEFAULT), 42)
LAYOUT = units.Layout()
API_ONLY = (st.Disable, st.Enable)  # nova API calls: the same on every backend


def cmds(step):
    return units.commands(step, LAYOUT, "controller")


@pytest.mark.parametrize("step_id", [i for i, _, _ in PLAN.numbered()])
def test_every_step_of_the_default_plan_has_its_devstack_commands(step_id):
    step = dict((i, s) for i, _, s in PLAN.numbered())[step_id]
    out = cmds(step)
    if isinstance(step, API_ONLY):
        assert out == []
        return
    if isinstance(step, st.Fault):  # a VIP failover: the backend's fault() breaks and measures
        assert step.action in st.FAILOVERS and set(units.FAILOVER_UNITS) == set(st.FAILOVERS)
        return
    assert out, step
    nodes = {n.name for n in PLAN.scenario.nodes} | {"*api"}
    assert all(c.node in nodes and c.command for c in out)


def test_a_restart_stops_the_unit_points_it_at_the_release_venv_and_starts_it():
    step = next(s for _, _, s in PLAN.numbered()
                if isinstance(s, st.Restart) and s.process == "nova-conductor")  # fmt: skip
    stop, retarget, start = cmds(step)
    assert "systemctl stop devstack@n-cond.service;" in stop.command
    assert "systemctl show -p Result --value devstack@n-cond.service" in stop.command
    assert "/opt/stack/upgrade-harness-releases/2026.2\\2#g" in retarget.command
    assert "/etc/systemd/system/devstack@n-cond.service" in retarget.command
    assert retarget.command.endswith("systemctl daemon-reload")
    assert start.command == "systemctl start devstack@n-cond.service"
    assert {stop.node, retarget.node, start.node} == {"controller"}


def test_db_syncs_run_on_the_controller_with_the_target_code_as_the_stack_user():
    step = next(s for _, _, s in PLAN.numbered()
                if isinstance(s, st.Manage) and s.action == "api-db-sync")  # fmt: skip
    (c,) = cmds(step)
    assert c.node == "controller"
    assert c.command == ("sudo -u stack /opt/stack/upgrade-harness-releases/2026.2/bin/"
                         "nova-manage api_db sync")  # fmt: skip


def test_the_pin_goes_into_nova_conf_and_the_computes_own_file():
    step = next(s for _, _, s in PLAN.numbered() if isinstance(s, st.SetOption))
    (c,) = cmds(step)
    assert "iniset /etc/nova/nova.conf upgrade_levels compute auto" in c.command
    assert "iniset /etc/nova/nova-cpu.conf upgrade_levels compute auto" in c.command


def test_a_handover_is_one_admin_socket_command_on_every_api_nodes_haproxy():
    step = next(s for _, _, s in PLAN.numbered()
                if isinstance(s, st.Admit) and s.drain and s.service == "nova")  # fmt: skip
    (c,) = cmds(step)
    assert c.node == "*api"
    assert (
        "'set server nova-api/controller state ready;set server nova-api/compute-api state drain'"
    ) in c.command
    assert c.command.endswith("socat stdio unix-connect:/opt/stack/data/upgrade-harness/admin.sock")


def test_the_conductor_unit_is_the_one_devstack_runs_with_the_templates_settings():
    # devstack@n-cond exists only with CELLSV2_SETUP=singleconductor (else n-super-cond
    # and n-cond-cell1, on two vhosts, and the plan would upgrade neither).
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert units.UNITS["nova-conductor"] == "n-cond"
    for f in ("devstack/local.conf.controller", "devstack/local.conf.compute-api"):
        assert "\nCELLSV2_SETUP=singleconductor\n" in (root / f).read_text(), f
    assert "CELLSV2_SETUP: singleconductor" in (root / "zuul.d/jobs.yaml").read_text()


# A unit as devstack writes it (functions-common: write_uwsgi_user_unit_file), uwsgi's
# `--venv` appended because devstack installs into one global venv.
UNIT = """[Service]
Environment = "PATH=/opt/stack/data/venv/bin:/usr/local/sbin:/usr/bin"
User = stack
ExecStart = /opt/stack/data/venv/bin/uwsgi --ini /etc/keystone/k.ini --venv /opt/stack/data/venv
ExecReload = /usr/bin/kill -HUP $MAINPID
"""


def test_the_retarget_moves_binary_venv_and_path_and_nothing_else(tmp_path):
    import subprocess

    unit = tmp_path / "devstack@keystone.service"
    unit.write_text(UNIT)
    for series in ("2026.2", "2027.1"):  # from devstack's venv, then from a release's
        step = st.Restart("keystone", "controller", "keystone-api", series)
        retarget = cmds(step)[1].command.removesuffix(" && systemctl daemon-reload")
        retarget = retarget.replace("/etc/systemd/system/devstack@keystone.service", str(unit))
        subprocess.run(retarget, shell=True, check=True)
        text = unit.read_text()
        venv = f"/opt/stack/upgrade-harness-releases/{series}"
        assert f"ExecStart = {venv}/bin/uwsgi --ini" in text
        assert text.count(venv) == 3 and "/opt/stack/data/venv" not in text
        assert f'"PATH={venv}/bin:/usr/local/sbin:/usr/bin"' in text
        assert "ExecReload = /usr/bin/kill -HUP $MAINPID" in text


def test_the_installed_versions_are_read_through_a_shell_as_one_json_object(tmp_path):
    # what the backend reads after an install and of devstack's own venv: the harness's
    # venv manifest script (a multi-line program) survives the node's shell
    import json
    import subprocess
    import sys

    from harness.releases.catalog import PROJECTS

    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    for i, project in enumerate(PROJECTS):  # each project's metadata, as pip installs it
        info = tmp_path / "site" / f"{project.replace('-', '_')}-{i}.0.dev4.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project}\nVersion: "
                                       f"{i}.0.dev4\n")  # fmt: skip
    command = units.installed_versions(str(tmp_path / "venv"))
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path / "site")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {p: f"{i}.0.dev4" for i, p in enumerate(PROJECTS)}


def test_a_command_with_the_base_releases_code_runs_from_devstacks_own_venv():
    # cinder's online migrations of N, finished with N's code before N+1's sync
    layout = units.Layout(base="2026.1")
    step = st.Manage("cinder", "online-migrations", "2026.1")
    (cmd,) = units.commands(step, layout, "controller")
    assert f"{layout.global_venv}/bin/cinder-manage db online_data_migrations" in cmd.command
    after = st.Manage("cinder", "online-migrations", "2026.2")
    (new,) = units.commands(after, layout, "controller")
    assert f"{layout.releases}/2026.2/bin/cinder-manage" in new.command
