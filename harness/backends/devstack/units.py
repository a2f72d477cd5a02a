"""The devstack backend's vocabulary: what each plan step becomes on real devstack nodes.

On devstack every service runs as a systemd unit `devstack@<name>.service` from one global
venv (/opt/stack/data/venv). The harness installs each target release in a venv of its
own beside it (Grenade keeps /opt/stack/old and /opt/stack/new; we keep one venv per
release), so a restart onto the new release is: stop the unit, point its ExecStart at the
release's venv, reload systemd, start it. HAProxy's admin socket is the one the devstack
plugin (devstack/plugin.sh) creates on every API node; options go into /etc/<project> with
devstack's own `iniset`.

This module only says *what* to run where (pure, tested against the default plan); the
devstack backend (harness/backends/devstack/backend.py) runs it on the nodes through testinfra.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from harness.plan import steps as st
from harness.releases import venv
from harness.releases.catalog import PROJECTS
from harness.services import BY_NAME


def tables(services) -> tuple[dict, dict, set, dict]:
    """What each service says of itself (harness/services/<project>/service.py: `devstack`):
    (harness process name → devstack service name, the unit being devstack@<name>.service;
    each project's main config file; the APIs the plugin's HAProxy balances over the API
    nodes; where devstack's Apache serves the others, once, on the controller)."""
    on = {svc.project: (svc, svc.devstack) for svc in services if svc.devstack}
    units = {process: unit for _, d in on.values() for process, unit in d.units.items()}
    config = {project: d.configs[0] for project, (_, d) in on.items()}
    fronted = {svc.api.name for svc, d in on.values() if d.fronted}
    paths = {svc.api.name: d.api_path for svc, d in on.values() if d.api_path}
    return units, config, fronted, paths


UNITS, CONFIG, FRONTED, API_PATHS = tables(BY_NAME.values())


@dataclass(frozen=True)
class Layout:
    """Where things are on a devstack node (devstack's and the plugin's defaults)."""

    user: str = "stack"
    devstack: str = "/opt/stack/devstack"
    global_venv: str = "/opt/stack/data/venv"
    releases: str = "/opt/stack/upgrade-harness-releases"  # one venv per release
    admin_socket: str = "/opt/stack/data/upgrade-harness/admin.sock"
    uv: str = "/opt/stack/upgrade-harness-uv/bin/uv"  # the plugin's, on every node
    base: str = ""  # the release devstack deployed: its code is devstack's own venv

    def venv(self, series: str) -> str:
        return f"{self.releases}/{series}"

    def code(self, series: str) -> str:
        """Where `series`'s code runs from: the base release's where devstack put it (a
        command with the old code, such as cinder's online migrations before its sync)."""
        return self.global_venv if series == self.base else self.venv(series)


@dataclass(frozen=True)
class Command:
    node: str  # a node name, or "*api" for every API node (each runs its own HAProxy)
    command: str  # a shell command line, run as root on the node


def unit(process: str) -> str:
    return f"devstack@{UNITS[process]}.service"


def commands(step: st.Step, layout: Layout, controller: str) -> list[Command]:
    """The shell commands that carry out `step` on devstack nodes (API calls — disabling a
    compute — are the same on every backend and not listed)."""
    if isinstance(step, st.Install):
        return _install(step, layout)
    if isinstance(step, st.Manage):
        return _manage(step, layout, controller)
    if isinstance(step, st.SetOption):
        return [_set_option(step, layout)]
    if isinstance(step, st.Restart):
        return _restart(step, layout)
    if isinstance(step, st.Signal):
        return [Command(step.host, f"systemctl kill --signal={step.signal} {unit(step.process)}")]
    if isinstance(step, st.Drain):
        return [haproxy_command(f"set server {_frontend(step)}/{step.host} state drain", layout)]
    if isinstance(step, st.Admit):
        lines = [f"set server {_frontend(step)}/{n} state ready" for n in step.ready]
        lines += [f"set server {_frontend(step)}/{n} state drain" for n in step.drain]
        return [haproxy_command(";".join(lines), layout)]
    return []


def _frontend(step: st.Step) -> str:
    return BY_NAME[step.service].api.name


def _install(step: st.Install, layout: Layout) -> list[Command]:
    return [Command(step.host, install_command(layout, step.series))]


def install_command(layout: Layout, series: str, sources: tuple = (),
                    constrained: bool = False) -> str:  # fmt: skip
    """Build the release's venv on a node: the requirements file the harness copied there
    (the lock, less the projects given as sources), under the copied upper-constraints if
    any, and each source — a checkout on the node, at the same path as on the controller —
    reinstalled from its tree (pbr versions it from its git)."""
    venv = layout.venv(series)
    reqs = f"{layout.releases}/{series}.txt"
    uv = layout.uv
    build = f"{uv} venv --allow-existing {venv} && {uv} pip install --python {venv}/bin/python"
    command = f"{build} -r {reqs}"
    if constrained:
        command += f" -c {layout.releases}/{series}-constraints.txt"
    for src in sources:
        command += f" --reinstall-package {src.project} {shlex.quote(str(src.path))}"
    return command


def installed_versions(venv_dir: str) -> str:
    """Each rolled project's installed version in the venv at `venv_dir` (pbr's, for a
    source), as a JSON object: read as the harness reads its own venvs (venv.INSTALLED)."""
    return shlex.join([f"{venv_dir}/bin/python", "-c", venv.INSTALLED, *PROJECTS])


def _manage(step: st.Manage, layout: Layout, controller: str) -> list[Command]:
    """The action's guard, if any, and its command: the backend runs them as the Action
    says (the guard decides, the command repeats while it has work: Action.perform)."""
    action = BY_NAME[step.service].actions[step.action]
    commands = [action.guard] if action.guard else []
    return [Command(controller, manage_command(c, layout, step.series))
            for c in [*commands, action.command]]  # fmt: skip


def manage_command(command: str, layout: Layout, series: str) -> str:
    """A management command (an Action's, or its guard) with `series`'s code, as devstack's
    user: devstack's config files are where the tools look by default."""
    tool, *args = command.split()
    return f"sudo -u {layout.user} {shlex.join([f'{layout.code(series)}/bin/{tool}', *args])}"


def _set_option(step: st.SetOption, layout: Layout) -> Command:
    files = BY_NAME[step.service].devstack.configs
    sets = " && ".join(
        f"iniset {f} {shlex.quote(step.section)} {shlex.quote(step.key)} {shlex.quote(step.value)}"
        for f in files
    )
    return Command(
        step.host, f"bash -c {shlex.quote(f'source {layout.devstack}/inc/ini-config && {sets}')}"
    )


def _restart(step: st.Restart, layout: Layout) -> list[Command]:
    name = unit(step.process)
    path = f"/etc/systemd/system/{name}"
    # Whatever venv the unit runs from now (devstack's, or an earlier release's), it runs
    # from the target's next: every mention on the ExecStart and Environment lines — the
    # binary, uwsgi's `--venv` (devstack appends it) and PATH (privsep-helper is found there).
    old = f'({layout.global_venv}|{layout.releases}/[^/ :"]+)'
    retarget = (
        f"sed -i -E '/^(ExecStart|Environment) *=/ s#{old}([/ :\"]|$)#"
        f"{layout.venv(step.series)}\\2#g' {path}"
    )
    return [
        Command(step.host, timed_stop(name)),
        Command(step.host, f"{retarget} && systemctl daemon-reload"),
        Command(step.host, f"systemctl start {name}"),
    ]


def timed_stop(unit_name: str) -> str:
    """Stop a unit; print the milliseconds it took and systemd's Result (`timeout`: the
    stop outlasted TimeoutStopSec and systemd sent SIGKILL — a forced kill)."""
    return (
        f"s=$(date +%s%N); systemctl stop {unit_name}; "
        f"echo $(( ($(date +%s%N) - s) / 1000000 )) "
        f"$(systemctl show -p Result --value {unit_name})"
    )


# A VIP failover on devstack: the plugin's units on the node holding the VIP, broken and
# then restored (steps.FAILOVERS; the backend's fault() measures it through the VIP).
FAILOVER_UNITS = {
    "stop-vip-haproxy": ("systemctl stop devstack@uh-haproxy.service",
                         "systemctl start devstack@uh-haproxy.service"),
    "kill-vip-keepalived": ("systemctl kill --signal=KILL devstack@uh-keepalived.service",
                            "systemctl restart devstack@uh-keepalived.service"),
}  # fmt: skip


def holds_vip(vip: str) -> str:
    """Exit 0 on the node whose interfaces have the VIP."""
    return f"ip -o -4 addr show | grep -qF ' {vip}/'"


def haproxy_command(line: str, layout: Layout) -> Command:
    """One line on every API node's HAProxy admin socket."""
    return Command(
        "*api", f"echo {shlex.quote(line)} | socat stdio unix-connect:{layout.admin_socket}"
    )


# -- the schema oracle's dumps ---------------------------------------------------------------

SCRATCH = "__fresh"  # suffix of the scratch databases a fresh install goes into
DUMP_ARGS = ("--no-data", "--skip-comments", "--compact", "--skip-dump-date",
             "--skip-add-drop-table")  # fmt: skip


def database(service: str, name: str) -> str:
    """devstack's name of one of the service's databases (nova's cell is nova_cell1)."""
    return BY_NAME[service].devstack.databases.get(name, name)


def mysql(layout: Layout, tool: str, *args: str) -> str:
    """mysql or mysqldump as devstack's user, whose ~/.my.cnf (devstack writes it) holds
    the database's credentials: no password is in the command."""
    return f"sudo -u {layout.user} -H {shlex.join([tool, *args])}"


def dump_command(layout: Layout, name: str) -> str:
    """`mysqldump --no-data` of one database, as the embedded backend dumps it."""
    return mysql(layout, "mysqldump", *DUMP_ARGS, name)


def fresh_sync_command(layout: Layout, service: str, schema, series: str) -> str:
    """The schema's sync command, from the target's venv, into its scratch database: the
    connection is the service's own (its main config file, read on the node with
    devstack's iniget, so the password never leaves the node) with the scratch database's
    name in it, given through oslo.config's environment variable."""
    group, _, option = schema.option.partition(".")
    config = BY_NAME[service].devstack.configs[0]
    scratch = schema.database + SCRATCH
    tool, *args = schema.command.split()
    sync = shlex.join([f"{layout.venv(series)}/bin/{tool}", *args])
    script = (
        f"source {layout.devstack}/inc/ini-config && "
        f"u=$(iniget {config} {group} {option} | sed -E 's#^([^:]+://[^/]*/)[^?]*#\\1{scratch}#')"
        f' && [ -n "$u" ] && exec sudo -u {layout.user} env {schema.env}="$u" {sync}'
    )
    return f"bash -c {shlex.quote(script)}"
