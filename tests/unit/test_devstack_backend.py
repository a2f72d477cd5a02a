"""The devstack backend drives the default plan on two devstack nodes: every step issues
exactly its devstack commands (topology/devstack.py) on the right node, plus read-only
probes; a stop that outlasted systemd's TimeoutStopSec is a forced kill; releases come
from each unit's ExecStart.

No devstack node can run here (no systemd), so the nodes are *scripted* testinfra hosts:
a testinfra backend that records each command and answers as a devstack node does
(systemctl's Result, HAProxy's `show stat`, curl's status code). The same backend over
real SSH hosts is tests/e2e/test_ssh_transport.py's transport.
"""

from __future__ import annotations

import datetime
import json
import re
import shlex
import socket
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from testinfra.backend import base
from testinfra.host import Host

from harness import scenario
from harness.backends.devstack import nodes as devstack_nodes
from harness.backends.devstack import units as ds
from harness.backends.devstack.backend import Devstack, DevstackCloud, admin_credentials, parse_stop
from harness.backends.devstack.target import DevstackTarget
from harness.errors import StepFailed, UserError
from harness.plan import planner
from harness.plan import steps as st
from harness.plan.events import EventLog
from harness.releases import catalog, pin_facts
from harness.services import BY_NAME
from harness.services import base as service_base

from .test_planner import DEFAULT

NODES = {
    "nodes": [
        {"name": "controller", "address": "10.0.0.11", "hostname": "np-ctl"},
        {"name": "compute-api", "address": "10.0.0.12"},
    ],
    "vip": "10.0.0.10",
}
STATS = "# pxname,svname,scur,status\nnova-api,controller,0,UP\nnova-api,compute-api,0,UP\n"
SERVERS_STATE = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
                 "srv_port\n3 nova-api 1 controller 10.0.0.11 2 0 18774\n"
                 "3 nova-api 2 compute-api 10.0.0.12 2 1 18774\n")  # fmt: skip


class ScriptedNode(base.BaseBackend):
    """A devstack node's answers, by command; every command is recorded."""

    NAME = "scripted"

    def __init__(self, name: str, stop_result: str = "success", **kwargs):
        super().__init__(name, **kwargs)
        self.commands: list[str] = []
        self.stop_result = stop_result
        self.venv = ds.Layout().global_venv  # where every unit's ExecStart points
        self.units = ["nova-api", "nova-compute"] if name == "compute-api" else list(ds.UNITS)
        self.files = {"/etc/nova/nova.conf": "[upgrade_levels]\ncompute = auto\n"}
        # Exit statuses to answer, in turn, to commands containing a key (then 0), as
        # devstack's tools would: nova-status's warning 1, "ran some, run again" 1, ...
        self.exits: dict[str, list[int]] = {}
        self.version = "34.0.0"  # what pbr made of a source (nova) installed here
        self.stats = STATS  # HAProxy's `show stat`
        # venv → project → version: what importlib.metadata reads there (else the target's
        # release, nova at `version`)
        self.installed: dict[str, dict[str, str]] = {}

    def run(self, command: str, *args: str, **kwargs) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        self.commands.append(cmd)
        key = next((k for k in self.exits if k in cmd and self.exits[k]), None)
        rc = self.exits[key].pop(0) if key else 0
        return self.result(rc, self.encode(cmd), self.answer(cmd), "")

    def answer(self, cmd: str) -> str:
        if "systemctl stop" in cmd:
            return f"1043 {self.stop_result}\n"
        if "show stat" in cmd:
            return self.stats
        if "show servers state" in cmd:
            return SERVERS_STATE
        if cmd.startswith("curl"):
            return "200"
        if "-p ExecStart" in cmd:
            units = re.findall(r"echo (devstack@\S+)", cmd)
            return "".join(f"{u} path={self.venv}/bin/x\n" for u in units)
        if "systemctl cat" in cmd:
            return "\n".join(self.units) + "\n"
        if cmd.startswith("journalctl"):
            return f"{cmd.split()[2]} started; password=pw-from-clouds-yaml\n"
        if cmd == "uname -s":  # testinfra's system_info, which picks its file module
            return "Linux\n"
        if cmd.startswith("cat -- "):
            return self.files.get(cmd.split()[-1], "")
        if "SERVICE_VERSION_HISTORY" in cmd:  # nova's RPC pin facts (pin_facts.FACTS)
            version = 72 if self.venv in cmd else 74  # devstack's venv: the old side
            return (
                "a warning\n"
                + json.dumps({"service_version": version, "peer_rpc": {"72": "6.5", "74": "6.5"}})
                + "\n"
            )
        if "importlib.metadata" in cmd:  # the venv's python, the script, the projects
            python, _, _, *projects = shlex.split(cmd)
            found = {**catalog.get("2026.2").versions, "nova": self.version,
                     **self.installed.get(python.removesuffix("/bin/python"), {})}  # fmt: skip
            return json.dumps({p: found[p] for p in projects}) + "\n"
        return ""


def scripted_hosts(stop_result="success") -> tuple[dict[str, Host], dict[str, ScriptedNode]]:
    backends = {n["name"]: ScriptedNode(n["name"], stop_result) for n in NODES["nodes"]}
    hosts = {}
    for name, b in backends.items():
        hosts[name] = Host(b)
        b.set_host(hosts[name])
    return hosts, backends


def nova_reporting_up():
    """What nova's and cinder's APIs answer once a restarted service has reported in."""
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    service = SimpleNamespace(state="up", updated_at=now.strftime("%Y-%m-%dT%H:%M:%S.%f"))
    services = SimpleNamespace(services=lambda **_: [service])
    return SimpleNamespace(compute=services, block_storage=services)


@pytest.fixture
def site(tmp_path):
    return devstack_nodes.parse(NODES, tmp_path / "nodes.yaml")


def backend_for(site, stop_result="success"):
    s = devstack_nodes.scenario_on(scenario.load(DEFAULT), site)
    hosts, nodes = scripted_hosts(stop_result)
    return Devstack(s, site, hosts, nova_reporting_up), nodes


def test_every_step_of_the_devstack_plan_issues_its_commands_on_its_node(site, tmp_path):
    backend, nodes = backend_for(site)
    plan = planner.build(backend.scenario, 3)
    api_only = (st.Disable, st.Enable)  # nova API calls, the same on every backend
    ctx = st.Context(backend, EventLog(tmp_path / "events.jsonl"))
    probes = ("show stat", "curl ", "-p ExecStart", "cat > ", "importlib.metadata",
              "SERVICE_VERSION_HISTORY", "RPC_API_VERSION")  # fmt: skip
    for _, _, step in plan.numbered():
        if isinstance(step, (*api_only, st.Fault)):  # a VIP failover: its own test, below
            continue
        for n in nodes.values():
            n.commands.clear()
        step.run(ctx)
        issued = {name: [c for c in n.commands if not any(p in c for p in probes)]
                  for name, n in nodes.items()}  # fmt: skip
        expected = {name: [] for name in nodes}
        for c in ds.commands(step, backend.layout, "controller"):
            for node in ("controller", "compute-api") if c.node == "*api" else (c.node,):
                expected[node].append(c.command)
        if isinstance(step, (st.Drain, st.Admit)) and step.service != "nova":
            expected = {name: [] for name in nodes}  # not behind HAProxy on devstack
        assert issued == expected, step.describe()


def test_the_plan_on_devstack_rolls_nova_api_on_both_nodes_and_the_rest_on_the_controller(site):
    backend, _ = backend_for(site)
    plan = planner.build(backend.scenario, 3)
    restarts = {(s.process, s.host) for _, _, s in plan.numbered() if isinstance(s, st.Restart)}
    assert ("nova-api", "compute-api") in restarts and ("nova-compute", "compute-api") in restarts
    assert {h for p, h in restarts if p != "nova-api" and p != "nova-compute"} == {"controller"}


def test_a_stop_systemd_had_to_end_with_sigkill_is_a_forced_kill(site):
    backend, _ = backend_for(site, stop_result="timeout")
    stop = backend.restart("nova", "compute-api", "nova-compute", "2026.2")
    assert stop.forced and stop.waited == 1.04
    assert parse_stop("250 success\n") == parse_stop("250 success")
    assert not parse_stop("250 success").forced
    with pytest.raises(StepFailed, match="could not read how the stop went"):
        parse_stop("Failed to stop unit")


def test_a_drained_api_restarts_in_maintenance_and_is_drained_again_once_it_answers(site):
    """HAProxy's checks are paused while a drained API restarts (a check it abandons on a
    slow-loading app makes the app log a write error), and resumed once the app answers
    us directly; an API the plan did not drain keeps its checks."""
    backend, nodes = backend_for(site)
    for n in nodes.values():
        n.stats = STATS.replace("compute-api,0,UP", "compute-api,0,DRAIN")
    backend.restart("nova", "compute-api", "nova-api", "2026.2")
    cmds = nodes["compute-api"].commands
    at = {key: next(i for i, c in enumerate(cmds) if key in c)
          for key in ("state maint", "systemctl stop", "systemctl start",
                      "curl -s -o /dev/null -m 3 -w '%{http_code}' http://10.0.0.12:18774/",
                      "state drain")}  # fmt: skip
    assert list(at.values()) == sorted(at.values()), cmds
    assert any("compute-api state maint" in c for c in nodes["controller"].commands)
    for n in nodes.values():
        n.commands.clear()
        n.stats = STATS
    backend.restart("nova", "compute-api", "nova-api", "2026.2")
    assert not any("state" in c and "set server" in c for n in nodes.values() for c in n.commands)


def test_releases_come_from_each_units_execstart(site):
    backend, _ = backend_for(site)
    old = backend.releases()
    assert old["controller"]["nova-conductor"] == "2026.1"  # devstack's venv: the base
    layout = backend.layout
    assert backend.release_of(f"{layout.releases}/2026.2/bin/uwsgi") == "2026.2"
    assert backend.release_of("/usr/bin/haproxy") is None


def test_the_devstack_cloud_addresses_nova_through_the_plugins_haproxy(site, tmp_path):
    admin = {"auth_url": "http://10.0.0.11/identity", "password": "pw-from-clouds-yaml"}
    cloud = DevstackCloud(scenario.load(DEFAULT), site, tmp_path / "state", admin)
    assert cloud.auth_url == "http://10.0.0.11/identity/v3"
    assert cloud.endpoint("nova") == "http://10.0.0.10:28774/compute"
    assert cloud.endpoint("glance") == "http://10.0.0.11/image"
    assert cloud.bridge is None
    assert cloud.secrets.get("user-admin") == "pw-from-clouds-yaml"
    assert (tmp_path / "state" / "secrets.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"nodes": [{"name": "a", "address": "1"}]}, "is too short"),
        ({"nodes": [{"name": "a"}, {"name": "b", "address": "2"}]}, "'address' is a required"),
        ({"nodes": [{"name": "a", "address": "1"}, {"name": "a", "address": "2"}]}, "twice"),
        ({"nodes": [{"name": "a", "address": "1", "roles": ["compute"]},
                    {"name": "b", "address": "2", "roles": ["compute"]}]}, "one controller"),
        ({"nodes": [], "colour": "red"}, "invalid"),
    ],
)  # fmt: skip
def test_a_bad_nodes_file_is_one_clear_sentence(doc, message, tmp_path):
    with pytest.raises(UserError, match=message):
        devstack_nodes.parse(doc, tmp_path / "nodes.yaml")


def test_node_defaults_follow_novas_two_node_guide(site):
    controller, other = site.nodes
    assert controller.roles == ("controller", "api", "compute")
    assert other.roles == ("nova-api", "compute") and other.hostname == "compute-api"
    assert other.url == "ssh://stack@10.0.0.12?sudo=true"
    assert Path(site.clouds_yaml).name == "clouds.yaml"


def test_a_node_out_of_reach_ends_the_run_with_exit_2_and_no_run_folder(tmp_path):
    nodes = tmp_path / "nodes.yaml"
    # Port 1 on loopback: nothing listens, so SSH is refused at once.
    nodes.write_text(yaml.safe_dump({"nodes": [
        {"name": n["name"], "address": n["address"], "url": "ssh://stack@127.0.0.1:1"}
        for n in NODES["nodes"]]}))  # fmt: skip
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "--state-dir", str(tmp_path / "state"), "run",
         "--backend", "devstack", "--nodes", str(nodes), "--report-dir", str(reports),
         str(DEFAULT)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Cannot reach devstack node controller" in done.stderr
    assert not reports.exists()


def test_the_bus_is_traced_with_novas_own_credentials_and_rabbitmqctl_on_the_controller(
    site, tmp_path
):
    admin = {"auth_url": "http://10.0.0.11/identity", "password": "pw"}
    cloud = DevstackCloud(scenario.load(DEFAULT), site, tmp_path / "state", admin)
    hosts, nodes = scripted_hosts()
    cloud.use_broker(hosts["controller"], "rabbit://stackrabbit:s%40cret@10.0.0.11:5672/")
    assert cloud.broker().credentials() == {
        "host": "10.0.0.11", "port": 5672, "user": "stackrabbit", "password": "s@cret"}  # fmt: skip
    assert "s@cret" in cloud.secrets.values()  # so collected logs are redacted of it
    cloud.broker().ctl("trace_on")
    assert nodes["controller"].commands == ["rabbitmqctl trace_on"]


def test_host_checks_and_journals_come_from_the_nodes(site, tmp_path):
    nodes_file = tmp_path / "nodes.yaml"
    nodes_file.write_text(yaml.safe_dump(NODES))
    target = DevstackTarget(scenario.load(DEFAULT), nodes_file, tmp_path / "state")
    target.hosts, nodes = scripted_hosts()
    target.backend = Devstack(target.scenario, target.site, target.hosts, nova_reporting_up)
    admin = {"auth_url": "http://10.0.0.11/identity", "password": "pw-from-clouds-yaml"}
    target.cloud = DevstackCloud(target.scenario, target.site, tmp_path / "state", admin)
    plan = planner.build(target.scenario, 3)

    checks = {(c["node"], c["check"]): c for c in target.check_hosts(plan)["checks"]}
    # every unit still runs devstack's venv: the old release, each a failed check
    release = checks[("compute-api", "release nova-compute")]
    assert (release["expected"], release["actual"], release["ok"]) == ("2026.2", "2026.1", False)
    assert ("compute-api", "release nova-conductor") not in checks  # no such unit there
    assert checks[("controller", "config nova [upgrade_levels] compute")]["ok"]
    assert checks[("compute-api", "config nova [upgrade_levels] compute")]["ok"]
    assert checks[("controller", "backend nova-api/compute-api")]["ok"]
    # ...and once each runs from the target's venv, they pass
    for n in nodes.values():
        n.venv = f"{target.backend.layout.releases}/2026.2"
    again = target.check_hosts(plan)["checks"]
    assert all(c["ok"] for c in again if c["check"].startswith("release")), again

    assert target.collect_logs(tmp_path / "logs") == len(ds.UNITS) + 2
    text = (tmp_path / "logs" / "compute-api" / "nova-compute.log").read_text()
    assert "devstack@n-cpu.service started" in text and "pw-from-clouds-yaml" not in text


# -- sources on devstack nodes ----------------------------------------------------------------


def test_a_run_reports_each_sides_versions_as_the_nodes_installed_them(site, tmp_path):
    from harness.run import job

    from .test_sources import committed, master_case

    checkout = committed(tmp_path / "nova")
    case = master_case(tmp_path, checkout, "oslo.config===10.0.0\n")
    nodes_file = tmp_path / "nodes.yaml"
    nodes_file.write_text(yaml.safe_dump(NODES))
    target = DevstackTarget(scenario.load(case), nodes_file, tmp_path / "state")
    target.hosts, nodes = scripted_hosts()
    nodes["controller"].files.update({
        site.clouds_yaml: "clouds:\n  devstack-admin:\n    auth:\n      auth_url: "
                          "http://10.0.0.11/identity\n      password: pw\n",
        "/etc/nova/nova.conf": "[DEFAULT]\ntransport_url = rabbit://stackrabbit:pw@10.0.0.11/\n"
                               "[upgrade_levels]\ncompute = auto\n"})  # fmt: skip
    # devstack deployed the old side from its checkouts (pbr: past the 2026.1 tag); the
    # master checkout on the nodes is nova 35.1.0.dev4
    deployed = {**catalog.get("2026.1").versions, "nova": "33.0.1.dev7"}
    nodes["controller"].installed[ds.Layout().global_venv] = deployed
    for n in nodes.values():
        n.version = "35.1.0.dev4"

    target.up()
    summary = {"sides": job.sides_record(target.scenario, target.installed())}  # as the run opens
    assert summary["sides"]["from"]["projects"] == deployed
    for node in target.scenario.nodes:  # the plan's Install steps
        target.backend.install(node.name, "master")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    watch = SimpleNamespace(finish=lambda settle_bound: None, settled=True, cloud=target.cloud)
    job._conclude(summary, watch, job.Resources(run_dir / "resources.json"),
                  planner.build(target.scenario, 3), run_dir, target)  # fmt: skip

    sides = json.loads((run_dir / "run.json").read_text())["sides"]
    assert catalog.get("2026.2").versions["nova"] == "34.0.0"  # the catalog's, not rolled
    assert sides["to"]["series"] == "master"
    assert sides["to"]["projects"]["nova"] == "35.1.0.dev4"
    assert sides["to"]["projects"]["keystone"] == catalog.get("2026.2").versions["keystone"]
    assert [s["path"] for s in sides["to"]["sources"]] == [str(checkout)]
    assert sides["from"]["series"] == "2026.1" and sides["from"]["projects"] == deployed
    pins = json.loads((run_dir / "pins.json").read_text())["nova"]  # read in the same venvs
    assert (pins["peer"], pins["target"]) == ("nova-compute", "master")
    assert {s: f["service_version"] for s, f in pins["facts"].items()} == {
        "2026.1": 72,
        "master": 74,
    }


def test_a_source_on_devstack_nodes_is_the_checkout_there_installed_into_the_release_venv(
    site, tmp_path
):
    from .test_sources import committed

    checkout = committed(tmp_path / "nova")
    uc = tmp_path / "upper-constraints.txt"
    uc.write_text("oslo.config===10.0.0\n")
    s = scenario.load(DEFAULT, scenario.Overrides((f"nova={checkout}",), uc))
    hosts, nodes = scripted_hosts()
    backend = Devstack(devstack_nodes.scenario_on(s, site), site, hosts, nova_reporting_up)
    nodes["compute-api"].version = "34.0.1.dev2"  # pbr's, of the checkout on the node
    backend.install("compute-api", "2026.2")
    written, constraints, install, versions, *pins = nodes["compute-api"].commands
    assert versions == ds.installed_versions(ds.Layout().venv("2026.2"))
    assert pins == [pin_facts.remote_command(ds.Layout().venv("2026.2"), project)
                    for project in ("cinder", "nova")]  # fmt: skip
    releases = ds.Layout().releases
    assert written.startswith(f"mkdir -p {releases} && cat > {releases}/2026.2.txt <<")
    assert "\nkeystone==" in written and "\nnova==" not in written  # nova: the source
    assert "oslo.config===10.0.0" in constraints
    assert install.endswith(f"-r {releases}/2026.2.txt -c {releases}/2026.2-constraints.txt"
                            f" --reinstall-package nova {checkout}")  # fmt: skip
    # a checkout of another series (a stable/2026.1 one) fails the install step, saying so
    nodes["compute-api"].version = "33.0.1"
    with pytest.raises(StepFailed, match="is nova 33.0.1, but the 2026.2 side needs nova 34.x"):
        backend.install("compute-api", "2026.2")
    # A release without sources is built from its lock, as before.
    nodes["controller"].commands.clear()
    backend.install("controller", "2026.1")
    assert nodes["controller"].commands[-4] == ds.install_command(ds.Layout(), "2026.1")


@pytest.mark.parametrize(
    ("spec", "message"),
    [("nova={checkout}@35.0.0", "versioned by its git checkout; drop the @35.0.0"),
     ("patch", "A patched source (nova) is built on this machine only")],
)  # fmt: skip
def test_what_a_devstack_node_cannot_have_is_refused_in_one_sentence(spec, message, tmp_path,
                                                                     capsys):  # fmt: skip
    from harness import cli

    from .test_sources import committed

    checkout = committed(tmp_path / "nova")
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(yaml.safe_dump(NODES))
    argv = ["--state-dir", str(tmp_path / "state"), "run", "--backend", "devstack",
            "--nodes", str(nodes)]  # fmt: skip
    if spec == "patch":
        case = Path(__file__).parents[2] / "scenarios/code/c0-harmless-log-line.yaml"
        argv.append(str(case))
    else:
        argv += [str(DEFAULT), "--source", spec.format(checkout=checkout)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "state").exists()


def managed(site, service, action, exits):
    """Run one Manage step on scripted devstack nodes whose tools exit as `exits` says;
    (the finding, the management commands the controller ran)."""
    backend, nodes = backend_for(site)
    nodes["controller"].exits = {k: list(v) for k, v in exits.items()}
    finding = backend.manage(service, action, backend.scenario.release_to)
    ran = [c.split("/bin/", 1)[1] for c in nodes["controller"].commands if "/bin/" in c]
    return finding, ran


def test_devstack_repeats_online_migrations_while_they_report_work(site):
    finding, ran = managed(site, "nova", "online-migrations",
                           {"online_data_migrations": [1, 1, 0]})  # fmt: skip
    assert finding is None
    assert ran == ["nova-manage db online_data_migrations"] * 3


def test_devstack_takes_nova_status_warning_as_fine_and_a_failure_as_a_failed_step(site):
    assert managed(site, "nova", "upgrade-check", {"nova-status": [1]}) == (
        None, ["nova-status upgrade check"])  # fmt: skip
    with pytest.raises(StepFailed, match="nova-status upgrade check` exited 2"):
        managed(site, "nova", "upgrade-check", {"nova-status": [2]})


def test_cinders_check_failing_on_a_volume_in_flight_is_run_again_and_a_finding(
        site, monkeypatch):  # fmt: skip
    monkeypatch.setattr(service_base, "IN_FLIGHT_PAUSE_S", 0.0)
    finding, ran = managed(site, "cinder", "upgrade-check", {"cinder-status": [2, 0]})
    assert ran == ["cinder-status upgrade check"] * 2
    assert finding.startswith("cinder-status upgrade check exited 2 1 time(s)"), finding
    assert "Service UUIDs" in finding
    with pytest.raises(StepFailed, match="exited 2 in all 4 runs"):  # a failure that stays
        managed(site, "cinder", "upgrade-check", {"cinder-status": [2] * 4})


def test_devstack_skips_neutrons_contract_while_offline_migrations_are_pending(site):
    finding, ran = managed(site, "neutron", "contract", {"has_offline_migrations": [1]})
    assert ran == ["neutron-db-manage has_offline_migrations"]  # no contract
    assert finding == BY_NAME["neutron"].actions["contract"].guard_finding
    finding, ran = managed(site, "neutron", "contract", {})
    assert finding is None and ran[-1] == "neutron-db-manage upgrade --contract"


def test_devstack_fails_a_step_whose_migrations_never_finish(site):
    with pytest.raises(StepFailed, match="still had work after 20 runs"):
        managed(site, "placement", "online-migrations", {"online_data_migrations": [1] * 20})


def test_devstacks_admin_comes_from_clouds_yaml_with_secure_yaml_as_openstacksdk_reads_it(
        site, tmp_path):  # fmt: skip
    hosts, nodes = scripted_hosts()
    files = nodes["controller"].files
    files[site.clouds_yaml] = (
        "clouds:\n  devstack-admin:\n    auth:\n      auth_url: http://10.0.0.11/identity\n"
        "      username: admin\n      project_name: admin\n    region_name: RegionOne\n"
    )
    assert "password" not in files[site.clouds_yaml]
    with pytest.raises(UserError, match="no auth_url or no password"):
        admin_credentials(site, hosts["controller"], tmp_path)
    files[str(Path(site.clouds_yaml).with_name("secure.yaml"))] = (
        "clouds:\n  devstack-admin:\n    auth:\n      password: from-secure-yaml\n"
    )
    auth = admin_credentials(site, hosts["controller"], tmp_path)
    assert (auth["auth_url"], auth["username"], auth["password"]) == (
        "http://10.0.0.11/identity",
        "admin",
        "from-secure-yaml",
    )
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())
    other = replace(site, cloud="no-such-cloud")
    with pytest.raises(UserError, match="has no cloud 'no-such-cloud'"):
        admin_credentials(other, hosts["controller"], tmp_path)


def test_the_nodes_file_names_its_cloud_else_os_cloud_does(tmp_path, monkeypatch):
    doc = {k: v for k, v in NODES.items() if k != "cloud"}
    monkeypatch.delenv("OS_CLOUD", raising=False)
    assert devstack_nodes.parse(doc, tmp_path / "n.yaml").cloud == "devstack-admin"
    monkeypatch.setenv("OS_CLOUD", "my-admin")
    assert devstack_nodes.parse(doc, tmp_path / "n.yaml").cloud == "my-admin"
    assert devstack_nodes.parse({**doc, "cloud": "named"}, tmp_path / "n.yaml").cloud == "named"


# -- the schema oracle's dumps on devstack --------------------------------------------------


def table(name: str, column: str = "id") -> str:
    return (
        f"CREATE TABLE `{name}` (\n  `{column}` int(11) NOT NULL,\n  PRIMARY KEY (`{column}`)\n);\n"
    )


class DatabaseNode(ScriptedNode):
    """A devstack controller's MariaDB: mysqldump answers each database's tables (devstack
    names nova's cell database nova_cell1, and cell0 has a cell's tables; a scratch database
    `X__fresh` holds what the target's sync made of X), and `extra` more in rolled ones."""

    def __init__(self, name: str, extra: dict[str, str] | None = None):
        super().__init__(name)
        self.extra = extra or {}

    def answer(self, cmd: str) -> str:
        if "mysqldump" not in cmd:
            return super().answer(cmd)
        name = cmd.split()[-1]
        base = name.removesuffix(ds.SCRATCH)
        cell = base in ("nova_cell0", "nova_cell1")  # cell databases: nova's tables
        tables = table(f"{'nova' if cell else base}_main")
        if name == base and name in self.extra:
            tables += table(self.extra[name])
        return tables


def dumped(site, tmp_path, extra=None):
    backend, nodes = backend_for(site)
    node = DatabaseNode("controller", extra)
    backend.hosts["controller"] = Host(node)
    node.set_host(backend.hosts["controller"])
    assert backend.dump_schemas(tmp_path / "run") is True
    return node, tmp_path / "run" / "schema"


def test_devstack_dumps_each_database_and_a_fresh_install_of_the_target(site, tmp_path):
    node, out = dumped(site, tmp_path)
    databases = {s.database for svc in BY_NAME.values() for s in svc.schemas}
    assert {p.stem for p in (out / "rolled").glob("*.sql")} == databases
    assert {p.stem for p in (out / "fresh").glob("*.sql")} == databases
    # devstack's nova_cell1 is the harness's nova; cell0 is a cell database like it
    assert (out / "rolled" / "nova.sql").read_text() == table("nova_main")
    assert (out / "fresh" / "nova_cell0.sql").read_text() == (
        out / "fresh" / "nova.sql"
    ).read_text()
    venv = ds.Layout().venv("2026.2")
    syncs = [c for c in node.commands if f"{venv}/bin/" in c]
    assert len(syncs) == len([s for svc in BY_NAME.values() for s in svc.schemas if s.command])
    nova = next(c for c in syncs if "api_db sync" in c)
    # the service's own connection, read on the node, with the scratch database in it
    assert "iniget /etc/nova/nova.conf api_database connection" in nova
    assert "nova_api__fresh" in nova and "OS_API_DATABASE__CONNECTION=" in nova
    creates = [i for i, c in enumerate(node.commands) if "CREATE DATABASE" in c]
    drops = [i for i, c in enumerate(node.commands) if "DROP DATABASE IF EXISTS" in c]
    assert len(creates) == len(syncs) and len(drops) == len(BY_NAME)  # one drop per service
    assert all(c.startswith("sudo -u stack -H ") for c in node.commands if "mysql" in c)


def test_the_schema_oracle_judges_devstack_s_dumps(site, tmp_path):
    from harness.checks.oracles import schema
    from harness.checks.record import RunRecord

    _, out = dumped(site, tmp_path)
    verdict = schema.check(RunRecord.load(out.parent))
    assert verdict.status == "pass", verdict.summary
    _, out = dumped(site, tmp_path / "left", extra={"neutron": "vips"})
    verdict = schema.check(RunRecord.load(out.parent))
    assert verdict.status == "fail"
    assert [(e["database"], e["table"]) for e in verdict.evidence] == [("neutron", "vips")]


def test_a_fresh_sync_connects_to_its_scratch_database_with_the_services_own_credentials(
    tmp_path,
):
    # devstack's iniget, a sudo that runs what it is given, the target venv's nova-manage
    (tmp_path / "devstack" / "inc").mkdir(parents=True)
    (tmp_path / "devstack" / "inc" / "ini-config").write_text(
        'iniget() { [ "$1 $2 $3" = "/etc/nova/nova.conf api_database connection" ] && '
        "echo 'mysql+pymysql://root:s3cret@10.0.0.11/nova_api?charset=utf8&plugin=dbcounter'; }\n"
    )
    bin_dir = tmp_path / "bin"
    tool = tmp_path / "releases" / "2026.2" / "bin" / "nova-manage"
    for path, text in ((bin_dir / "sudo", 'shift 2; exec "$@"'),
                       (tool, 'echo "$OS_API_DATABASE__CONNECTION $*"')):  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!/bin/sh\n{text}\n")
        path.chmod(0o755)
    layout = ds.Layout(devstack=str(tmp_path / "devstack"), releases=str(tmp_path / "releases"))
    api = BY_NAME["nova"].schemas[0]
    command = ds.fresh_sync_command(layout, "nova", api, "2026.2")
    assert "s3cret" not in command  # read on the node, never sent
    done = subprocess.run(command, shell=True, capture_output=True, text=True,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "mysql+pymysql://root:s3cret@10.0.0.11/nova_api__fresh?charset=utf8&plugin=dbcounter",
        "api_db", "sync"]  # fmt: skip


def test_a_vip_failover_breaks_the_holders_unit_measures_through_the_vip_and_restores_it(
    tmp_path,
):
    """The plugin's HAProxy on the node holding the VIP is stopped; once the other node
    holds it, it is started again on the same node. The VIP here is a loopback listener
    (the harness sends nothing off this machine); the holder is what `ip addr` says."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    site = devstack_nodes.parse({**NODES, "vip": "127.0.0.1"}, tmp_path / "nodes.yaml")
    site = replace(site, nova_port=port)
    backend, nodes = backend_for(site)
    holder = {"name": "controller"}

    def scripted(name: str, node: ScriptedNode):
        plain = node.run

        def run(command, *args, **kwargs):
            cmd = node.get_command(command, *args)
            if "systemctl stop devstack@uh-haproxy" in cmd:
                holder["name"] = "compute-api"  # keepalived's check failed: the VIP moves
            if cmd.startswith("ip -o -4 addr show"):
                node.commands.append(cmd)
                rc = 0 if holder["name"] == name else 1
                return node.result(rc, node.encode(cmd), "", "")
            return plain(command, *args, **kwargs)

        node.run = run

    for name, n in nodes.items():
        scripted(name, n)
    try:
        measured = backend.fault("stop-vip-haproxy", None, None, tmp_path / "ledger")
    finally:
        listener.close()
    assert (measured["holder"], measured["new_holder"]) == ("controller", "compute-api")
    assert measured["failed_probes"] == 0 and measured["probes"] >= 1
    issued = [c for c in nodes["controller"].commands if "systemctl" in c]
    assert issued == ["systemctl stop devstack@uh-haproxy.service",
                      "systemctl start devstack@uh-haproxy.service"]  # fmt: skip
    assert not [c for c in nodes["compute-api"].commands if "systemctl" in c]
    with pytest.raises(StepFailed, match="needs the plugin's keepalived"):
        backend_for(devstack_nodes.parse({"nodes": NODES["nodes"]}, tmp_path / "n.yaml"))[0].fault(
            "kill-vip-keepalived", None, None, tmp_path / "ledger"
        )


class QueueBroker:
    """devstack's RabbitMQ as rabbitmqctl lists its queues, a new answer per call."""

    def __init__(self, *answers: list[dict]):
        self.answers, self.calls = list(answers), 0

    def ctl(self, *args: str) -> str:
        self.calls += 1
        return json.dumps(self.answers[min(self.calls, len(self.answers)) - 1])


def test_a_restarted_neutron_rpc_server_on_devstack_is_ready_once_it_consumes_its_queue(site):
    backend, _ = backend_for(site)
    host = site.controller.hostname
    mine = {"name": f"q-plugin.{host}", "messages": 0, "consumers": 1}
    other = {"name": "q-plugin", "messages": 0, "consumers": 1}  # another server's: not it
    backend.broker = QueueBroker([other], [other, {**mine, "consumers": 0}], [other, mine])
    since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    backend.wait_started("neutron", "controller", "neutron-rpc-server", since)
    assert backend.broker.calls == 3
    backend.broker, backend.timeout = QueueBroker([other]), 1.0
    with pytest.raises(StepFailed, match=f"consuming q-plugin.{host}"):
        backend.wait_started("neutron", "controller", "neutron-rpc-server", since)
