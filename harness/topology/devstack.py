"""The devstack backend's vocabulary: what each plan step becomes on real devstack nodes.

On devstack every service runs as a systemd unit `devstack@<name>.service` from one global
venv (/opt/stack/data/venv). The harness installs each target release in a venv of its
own beside it (Grenade keeps /opt/stack/old and /opt/stack/new; we keep one venv per
release), so a restart onto the new release is: stop the unit, point its ExecStart at the
release's venv, reload systemd, start it. HAProxy's admin socket is the one the devstack
plugin (devstack/plugin.sh) creates on every API node; options go into /etc/<project> with
devstack's own `iniset`.

This module only says *what* to run where (pure, tested against the default plan); the
devstack backend (harness/backends/devstack.py) runs it on the nodes through testinfra.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from harness.plan import steps as st
from harness.services import BY_NAME

# harness process name → devstack service name (the unit is devstack@<name>.service)
UNITS = {
    "keystone-api": "keystone",
    "glance-api": "g-api",
    "placement-api": "placement-api",
    "neutron-api": "neutron-api",
    "nova-api": "n-api",
    "nova-conductor": "n-cond",  # CELLSV2_SETUP=singleconductor (local.conf)
    "nova-scheduler": "n-sch",
    "nova-compute": "n-cpu",
}
CONFIG = {
    "keystone": "/etc/keystone/keystone.conf",
    "glance": "/etc/glance/glance-api.conf",
    "placement": "/etc/placement/placement.conf",
    "neutron": "/etc/neutron/neutron.conf",
    "nova": "/etc/nova/nova.conf",
}
COMPUTE_CONFIG = "/etc/nova/nova-cpu.conf"  # devstack gives nova-compute its own file
# The APIs the plugin's HAProxy balances over the API nodes; the others run once, on the
# controller, behind devstack's Apache at these paths.
FRONTED = {"nova-api"}
API_PATHS = {
    "keystone-api": "/identity",
    "glance-api": "/image",
    "placement-api": "/placement",
    "neutron-api": "/networking",
    "nova-api": "/compute",
}


@dataclass(frozen=True)
class Layout:
    """Where things are on a devstack node (devstack's and the plugin's defaults)."""

    user: str = "stack"
    devstack: str = "/opt/stack/devstack"
    global_venv: str = "/opt/stack/data/venv"
    releases: str = "/opt/stack/upgrade-harness-releases"  # one venv per release
    admin_socket: str = "/opt/stack/data/upgrade-harness/admin.sock"
    uv: str = "/opt/stack/upgrade-harness-uv/bin/uv"  # the plugin's, on every node

    def venv(self, series: str) -> str:
        return f"{self.releases}/{series}"


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
        return [_manage(step, layout, controller)]
    if isinstance(step, st.SetOption):
        return [_set_option(step, layout)]
    if isinstance(step, st.Restart):
        return _restart(step, layout)
    if isinstance(step, st.Signal):
        return [Command(step.host, f"systemctl kill --signal={step.signal} {unit(step.process)}")]
    if isinstance(step, st.Drain):
        return [_haproxy(f"set server {_frontend(step)}/{step.host} state drain", layout)]
    if isinstance(step, st.Admit):
        lines = [f"set server {_frontend(step)}/{n} state ready" for n in step.ready]
        lines += [f"set server {_frontend(step)}/{n} state drain" for n in step.drain]
        return [_haproxy(";".join(lines), layout)]
    return []


def _frontend(step: st.Step) -> str:
    return BY_NAME[step.service].api.name


def _install(step: st.Install, layout: Layout) -> list[Command]:
    venv = layout.venv(step.series)
    lock = f"{layout.releases}/{step.series}.txt"  # the harness's lock file, copied there
    uv = layout.uv
    build = f"{uv} venv --allow-existing {venv} && {uv} pip install --python {venv}/bin/python"
    return [Command(step.host, f"{build} -r {lock}")]


def _manage(step: st.Manage, layout: Layout, controller: str) -> Command:
    action = BY_NAME[step.service].actions[step.action]
    tool, *args = action.command.split()
    argv = [f"{layout.venv(step.series)}/bin/{tool}", *args]
    return Command(controller, f"sudo -u {layout.user} {shlex.join(argv)}")


def _set_option(step: st.SetOption, layout: Layout) -> Command:
    files = [CONFIG[step.service]]
    if step.service == "nova":
        files.append(COMPUTE_CONFIG)  # the pin must reach nova-compute too
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


def _haproxy(line: str, layout: Layout) -> Command:
    return Command(
        "*api", f"echo {shlex.quote(line)} | socat stdio unix-connect:{layout.admin_socket}"
    )
