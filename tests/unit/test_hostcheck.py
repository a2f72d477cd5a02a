"""Host checks without a cloud: the plan folding, the netns backend's command wrapping,
and every check on a fake testinfra host whose answers we choose."""

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from testinfra.backend.local import LocalBackend

from harness import scenario
from harness.backends import hostcheck, hosts
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy
from harness.plan import expect, planner
from harness.plan import steps as st
from harness.services import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"
OLD, NEW = "/venvs/2026.1-aaa", "/venvs/2026.2-bbb"


# -- the plan folding ------------------------------------------------------------------------------


def test_the_default_plan_pins_compute_rpc_on_every_nova_node():
    s = scenario.load(DEFAULT)
    options = expect.planned_options(planner.build(s, 42))
    assert options == {(n.name, "nova", "upgrade_levels", "compute"): "auto" for n in s.nodes}


def test_the_last_value_set_wins_per_node_and_option():
    s = scenario.load(DEFAULT)
    steps = (
        st.SetOption("nova", "controller", "upgrade_levels", "compute", "auto"),
        st.SetOption("nova", "compute-api", "upgrade_levels", "compute", "auto"),
        st.Restart("nova", "controller", "nova-conductor", "2026.2"),
        st.SetOption("nova", "controller", "upgrade_levels", "compute", "2026.2"),
    )
    later = (st.SetOption("nova", "controller", "DEFAULT", "debug", "true"),)
    plan = planner.Plan(s, 1, (planner.Phase("a", steps), planner.Phase("b", later)))
    assert expect.planned_options(plan) == {
        ("controller", "nova", "upgrade_levels", "compute"): "2026.2",
        ("compute-api", "nova", "upgrade_levels", "compute"): "auto",
        ("controller", "nova", "DEFAULT", "debug"): "true",
    }


# -- the netns backend -----------------------------------------------------------------------------


def test_every_command_runs_under_ip_netns_exec_quoted_once(monkeypatch):
    host = hosts.get_host("netns://uh-br0-controller")
    ran = []
    monkeypatch.setattr(host.backend, "run_local", lambda cmd: ran.append(cmd) or
                        host.backend.result(0, cmd.encode(), b"out", b""))  # fmt: skip
    result = host.run("cat %s", "/etc/a b'; rm -rf /")
    argv = shlex.split(ran[0])
    assert argv[:6] == ["ip", "netns", "exec", "uh-br0-controller", "/bin/sh", "-c"]
    assert shlex.split(argv[6]) == ["cat", "/etc/a b'; rm -rf /"]  # one argument, not a command
    assert result.command == b"cat '/etc/a b'\"'\"'; rm -rf /'"  # what ran on the node
    assert result.stdout == "out"


def test_the_wrapped_command_means_on_the_node_what_it_means_locally():
    backend = hosts.NetnsBackend("ns")
    wrapped = shlex.split(backend.wrap(backend.get_command("printf '%%s|' %s %s", "a'b", "$HOME")))
    # Drop `ip netns exec ns` and run the rest here: the node's shell sees the same argv.
    out = subprocess.run(wrapped[4:], capture_output=True, text=True, check=True).stdout
    assert out == "a'b|$HOME|"


def test_hosts_are_chosen_by_url():
    node = hosts.get_host("netns://uh-br0-compute-api")
    assert isinstance(node.backend, hosts.NetnsBackend)
    assert node.backend.namespace == "uh-br0-compute-api"
    assert isinstance(hosts.get_host("local://").backend, LocalBackend)


# -- the checks on a fake host ---------------------------------------------------------------------


@dataclass
class FakeHost:
    """Answers like a testinfra host: processes (pid → args), files, listening sockets,
    and the admin socket's `show stat`."""

    procs: dict
    files: dict
    sockets: set
    stat: str | None = None

    @property
    def process(self):
        rows = [{"pid": pid, "args": args} for pid, args in self.procs.items()]
        return SimpleNamespace(filter=lambda: rows)

    def file(self, path):
        if path not in self.files:
            return SimpleNamespace(linked_to="/usr/bin/python3.11", content_string="")
        return SimpleNamespace(content_string=self.files[path], linked_to=path)

    def socket(self, spec):
        return SimpleNamespace(is_listening=spec in self.sockets)

    def run(self, command, *args):
        if self.stat is None:
            return SimpleNamespace(rc=1, stdout="", stderr="socat: No such file")
        return SimpleNamespace(rc=0, stdout=self.stat, stderr="")


def stat_text(status):
    rows = ["# pxname,svname,scur,status,"]
    for fe in (s.api.name for s in BY_NAME.values() if s.api):
        rows += [f"{fe},FRONTEND,0,OPEN,"]
        rows += [f"{fe},{n},0,{status.get((fe, n), 'UP')}," for n in ("controller", "compute-api")]
    return "\n".join(rows) + "\n"


@pytest.fixture
def cloud(tmp_path):
    c = Cloud(scenario.load(DEFAULT), tmp_path)
    c.record["venvs"] = {"2026.1": OLD, "2026.2": NEW}
    pid = 100
    for node in c.scenario.nodes:
        for svc in BY_NAME.values():
            if svc.runs_on(node):
                for name in svc.processes(node):
                    pid += 1
                    c.record["processes"].append({"name": name, "node": node.name, "pid": pid,
                                                  "start_ticks": 1, "log": "x.log"})  # fmt: skip
    for node in c.scenario.balancers:
        c.record["processes"].append({"name": "haproxy", "node": node.name, "pid": 99,
                                      "start_ticks": 1, "log": "h.log"})  # fmt: skip
    return c


def healthy(cloud, venv=NEW, pin=True, stat=None):
    """Fake hosts per node: every recorded process on `venv`, the pin set (or not), every
    API listening, HAProxy answering `stat`."""
    out = {}
    for node in cloud.scenario.nodes:
        procs = {p.pid: f"{venv}/bin/python3 {venv}/bin/{p.name} --config-file x"
                 for p in cloud.processes(node.name)}  # fmt: skip
        procs[99] = "haproxy -f haproxy.cfg -db"
        conf = "[DEFAULT]\nhost = x\n" + ("[upgrade_levels]\ncompute = auto\n" if pin else "")
        files = {str(BY_NAME["nova"].conf(cloud, node)): conf}
        sockets = {f"tcp://{node.address}:{svc.api.port}" for svc in BY_NAME.values()}
        sockets |= {f"tcp://{cloud.vip}:{svc.api.port}" for svc in BY_NAME.values()}
        stat_now = stat if stat is not None else stat_text({})
        out[node.name] = FakeHost(procs, files, sockets, stat_now)
    return out


def run_checks(monkeypatch, cloud, fakes, target="2026.2"):
    monkeypatch.setattr(hostcheck, "host_for", lambda c, node, transport: fakes[node.name])
    result = hostcheck.check_hosts(cloud, planner.build(cloud.scenario, 42), target)
    return {(c["node"], c["check"]): c for c in result["checks"]}, result


def failing(checks):
    return sorted(key for key, c in checks.items() if not c["ok"])


def test_a_cloud_where_everything_is_as_planned_passes(monkeypatch, cloud):
    checks, result = run_checks(monkeypatch, cloud, healthy(cloud))
    assert failing(checks) == []
    kinds = {c["check"].split()[0] for c in result["checks"]}
    assert kinds == {"release", "config", "listening", "backend"}
    # 11 + 8 processes, 2 pins, 6 APIs and 6 VIP frontends on each node (both balancers),
    # 12 backends in each HAProxy.
    assert len(checks) == 19 + 2 + 24 + 24
    assert result["target"] == "2026.2" and result["hosts"]["controller"].startswith("netns://")
    assert ("controller", "release haproxy") not in checks  # infra runs no release


def test_processes_on_the_old_release_fail(monkeypatch, cloud):
    fakes = healthy(cloud)
    compute = cloud.processes("compute-api", "nova-compute")[0]
    fakes["compute-api"].procs[compute.pid] = f"nova-compute: master process [{OLD}/bin/x]"
    checks, _ = run_checks(monkeypatch, cloud, fakes)
    assert failing(checks) == [("compute-api", "release nova-compute")]
    assert checks[("compute-api", "release nova-compute")]["actual"] == "2026.1"


def test_every_process_fails_when_nothing_was_rolled(monkeypatch, cloud):
    checks, _ = run_checks(monkeypatch, cloud, healthy(cloud, venv=OLD))
    assert len([k for k in failing(checks) if k[1].startswith("release")]) == 19


def test_the_release_is_found_from_the_memory_map_when_the_command_line_says_nothing(
    monkeypatch, cloud
):
    fakes = healthy(cloud)
    api = cloud.processes("controller", "nova-api")[0]
    fakes["controller"].procs[api.pid] = "uwsgi master"
    fakes["controller"].files[f"/proc/{api.pid}/maps"] = f"7f00 r-xp {OLD}/lib/x.so\n"
    checks, _ = run_checks(monkeypatch, cloud, fakes)
    assert checks[("controller", "release nova-api")]["actual"] == "2026.1"


def test_a_process_gone_or_never_recorded_fails(monkeypatch, cloud):
    fakes = healthy(cloud)
    sched = cloud.processes("controller", "nova-scheduler")[0]
    del fakes["controller"].procs[sched.pid]
    unrecorded = ("glance-api", "compute-api")
    cloud.record["processes"] = [
        p for p in cloud.record["processes"] if (p["name"], p["node"]) != unrecorded
    ]
    checks, _ = run_checks(monkeypatch, cloud, fakes)
    assert failing(checks) == [("compute-api", "release glance-api"),
                               ("controller", "release nova-scheduler")]  # fmt: skip
    assert checks[("controller", "release nova-scheduler")]["actual"].startswith("not running")


def test_a_missing_pin_fails_on_every_node(monkeypatch, cloud):
    checks, _ = run_checks(monkeypatch, cloud, healthy(cloud, pin=False))
    key = "config nova [upgrade_levels] compute"
    assert failing(checks) == [("compute-api", key), ("controller", key)]
    assert checks[("controller", key)]["actual"] == "unset"


def test_an_api_not_listening_fails(monkeypatch, cloud):
    fakes = healthy(cloud)
    fakes["compute-api"].sockets.discard("tcp://10.250.0.12:9292")
    checks, _ = run_checks(monkeypatch, cloud, fakes)
    assert failing(checks) == [("compute-api", "listening glance-api 10.250.0.12:9292")]


def test_a_backend_down_or_absent_fails(monkeypatch, cloud):
    stat = stat_text({("nova-api", "compute-api"): "DOWN", ("keystone-api", "controller"): "MAINT"})
    stat = "\n".join(line for line in stat.splitlines() if line != "glance-api,controller,0,UP,")
    fakes = healthy(cloud)
    fakes["controller"].stat = stat  # the controller's HAProxy sees it; compute-api's does not
    checks, _ = run_checks(monkeypatch, cloud, fakes)
    assert failing(checks) == [
        ("controller", "backend glance-api/controller"),
        ("controller", "backend keystone-api/controller"),
        ("controller", "backend nova-api/compute-api"),
    ]
    assert checks[("controller", "backend glance-api/controller")]["actual"] == "absent"
    assert checks[("controller", "backend nova-api/compute-api")]["actual"] == "DOWN"


def test_an_admin_socket_that_does_not_answer_fails_every_backend_not_the_run(monkeypatch, cloud):
    fakes = healthy(cloud)
    fakes["controller"].stat = None
    checks, _ = run_checks(monkeypatch, cloud, fakes)
    backends = [k for k in checks if k[1].startswith("backend")]
    ours = [k for k in backends if k[0] == "controller"]  # compute-api's HAProxy answers
    assert len(backends) == 24 and len(ours) == 12 and failing(checks) == sorted(ours)
    assert "socat: No such file" in checks[backends[0]]["actual"]


def test_parse_stats_reads_the_admin_sockets_csv():
    rows = haproxy.parse_stats(stat_text({("nova-api", "controller"): "DRAIN"}))
    assert {(r["pxname"], r["svname"]): r["status"] for r in rows}[("nova-api", "controller")] == (
        "DRAIN"
    )
