"""The SSH transport without a cloud: sshd's and the client's config, the node's URL, and
the node-side stop and start scripts run for real through a local testinfra host."""

import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra
from testinfra.backend import get_backend

from harness import process, scenario
from harness.backends import hosts
from harness.backends.embedded import lifecycle, prereqs, remote, ssh
from harness.backends.embedded.cloud import Cloud

from .test_process import CHILD, PARENT

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MARK": "a b'c$d"}


@pytest.fixture
def cloud(tmp_path):
    return Cloud(scenario.load(DEFAULT), tmp_path)


def lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


# -- configuration -----------------------------------------------------------------------------


def test_sshd_listens_on_the_node_address_only_and_takes_root_by_key_only(cloud):
    node = cloud.scenario.node("compute-api")
    f = ssh.files(cloud)
    config = lines(ssh.sshd_config(f, node))
    assert [c for c in config if c.startswith("ListenAddress")] == [
        f"ListenAddress {node.address}:22"
    ]
    assert {
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "AllowUsers root",
        f"AuthorizedKeysFile {cloud.state_dir}/ssh/authorized_keys",
        f"HostKey {cloud.state_dir}/ssh/ssh_host_ed25519_key",
        f"PidFile {cloud.state_dir}/ssh/sshd-compute-api.pid",
    } <= config


def test_the_client_uses_the_cloud_key_and_known_hosts_and_never_prompts(cloud):
    config = lines(ssh.ssh_config(ssh.files(cloud)))
    assert {
        "User root",
        f"IdentityFile {cloud.state_dir}/ssh/id_ed25519",
        "IdentitiesOnly yes",
        f"UserKnownHostsFile {cloud.state_dir}/ssh/known_hosts",
        "GlobalKnownHostsFile /dev/null",
        "StrictHostKeyChecking accept-new",
        "BatchMode yes",
    } <= config


def test_the_ssh_url_gives_testinfra_the_config_and_no_lingering_master(cloud):
    url = hosts.host_url(cloud, "controller", "ssh")
    assert url == ssh.ssh_url(cloud, cloud.scenario.controller)
    backend = get_backend(url)
    assert backend.NAME == "ssh" and backend.host.name == cloud.scenario.controller.address
    assert backend.ssh_config == str(cloud.state_dir / "ssh" / "ssh_config")
    command, args = backend._build_ssh_command("true")
    assert "ControlMaster" not in " ".join(command)
    assert args[:2] == [str(cloud.state_dir / "ssh" / "ssh_config"), "root"]


def test_netns_stays_the_default_and_an_unknown_transport_is_refused(cloud):
    assert hosts.host_url(cloud, "controller") == "netns://uh-br0-controller"
    with pytest.raises(ValueError, match="unknown transport 'telnet'"):
        hosts.host_url(cloud, "controller", "telnet")


@pytest.fixture
def openssh():
    """Debian's openssh-server and ssh-keygen: installed as root, as the SSH transport does
    (a skip on a root Debian machine would be a missing install step)."""
    if prereqs.is_root() and shutil.which("apt-get"):
        ssh.require_sshd()
    if not ssh.SSHD.exists() or not shutil.which("ssh-keygen"):
        pytest.skip("needs openssh-server and ssh-keygen (installed as root with apt-get)")


def test_keys_are_private_and_root_is_let_in_by_the_client_key_only(cloud, openssh):
    f = ssh.ensure_files(cloud)
    assert stat.S_IMODE(f.dir.stat().st_mode) == 0o700
    for path in (f.host_key, f.client_key, f.authorized_keys, f.client_config, f.known_hosts):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert f.authorized_keys.read_text() == Path(f"{f.client_key}.pub").read_text()
    before = f.client_key.read_bytes()
    ssh.ensure_files(cloud)  # idempotent: the keys of a cloud do not change under it
    assert f.client_key.read_bytes() == before


def test_a_state_dir_under_a_world_writable_directory_is_named(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    (shared / "state").mkdir()
    assert ssh.writable_by_others(shared / "state") == shared
    assert ssh.writable_by_others(Path("/usr/sbin")) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (sshd -t checks its privsep dir)")
def test_sshd_accepts_the_generated_config(cloud, openssh):
    f = ssh.ensure_files(cloud)
    path = f.sshd_config("controller")
    path.write_text(ssh.sshd_config(f, cloud.scenario.controller))
    ssh.PRIVSEP_DIR.mkdir(exist_ok=True)
    done = subprocess.run([str(ssh.SSHD), "-t", "-f", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- the node-side scripts, run for real ---------------------------------------------------------


def local_host():
    return testinfra.get_host("local://")


def test_stop_and_start_command_lines_quote_every_argument():
    proc = process.Proc("nova-api", "controller", 4242, 777, "/l/nova-api.log")
    argv = shlex.split(remote.stop_command(proc, 30))
    assert argv[:2] == ["bash", "-c"] and argv[3:] == ["stop", "4242", "777", "30000", "4242"]
    argv = shlex.split(remote.stop_command(proc, 30, whole_group=True))
    assert argv[3:] == ["stop", "4242", "777", "30000", "-4242"]
    run = lifecycle.Launch(["/v/bin/uwsgi", "--ini", "/s/u w.ini"], ENV, Path("/s/logs/a.log"))
    argv = shlex.split(remote.start_command(run))
    assert argv[3:6] == ["start", "/s/logs/a.log", "env"]
    assert argv[6:] == ["-i", "LANG=C.UTF-8", "MARK=a b'c$d", "PATH=/usr/local/bin:/usr/bin:/bin",
                        "/v/bin/uwsgi", "--ini", "/s/u w.ini"]  # fmt: skip


def start_local(tmp_path, argv, env=ENV) -> process.Proc:
    log = tmp_path / "logs" / "svc.log"
    out = local_host().run(remote.start_command(lifecycle.Launch(argv, env, log)))
    pid, _, raw = out.stdout.strip().partition(" ")
    fields = process.parse_stat(raw)
    assert fields[2] == pid, "the process leads its own process group"
    return process.Proc("svc", "local", int(pid), int(fields[19]), str(log))


def test_a_started_process_is_detached_with_exactly_its_environment_and_log(tmp_path):
    code = "import os, time; print(sorted(os.environ), flush=True); time.sleep(60)"
    proc = start_local(tmp_path, [sys.executable, "-c", code])
    try:
        assert process.alive(proc)
        fields = process.parse_stat(Path(f"/proc/{proc.pid}/stat").read_text())
        assert fields[3] == str(proc.pid), "its own session"
        # The start returns once setsid has run; setsid and env then exec in turn, so wait
        # for the program itself before reading its environment.
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 5
        while not cmdline.read_bytes().startswith(sys.executable.encode() + b"\0"):
            assert time.monotonic() < deadline, cmdline.read_bytes()
            time.sleep(0.05)
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        assert {e.decode() for e in environ if e} == {f"{k}={v}" for k, v in ENV.items()}
        deadline = time.monotonic() + 5
        while not Path(proc.log).read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Path(proc.log).read_text() == f"{sorted(ENV)}\n"
        assert os.readlink(f"/proc/{proc.pid}/fd/0") == "/dev/null"
    finally:
        process.stop(proc, 5)


def test_the_node_stops_a_process_group_gracefully(tmp_path):
    proc = start_local(tmp_path, ["sh", "-c", "sleep 60 & sleep 60"])
    out = local_host().run(remote.stop_command(proc, 10, whole_group=True))
    how, ms, forced = out.stdout.split()
    assert (how, forced) == ("stopped", "0") and int(ms) < 10_000
    assert not process.alive(proc) and not process.group_members(proc.pid)


def test_the_node_sends_sigterm_to_the_service_alone(tmp_path):
    mark = tmp_path / "child"
    proc = start_local(tmp_path, [sys.executable, "-c", PARENT, CHILD, str(mark)])
    deadline = time.monotonic() + 10
    while not (mark.exists() and mark.read_text() == "ready") and time.monotonic() < deadline:
        time.sleep(0.05)
    how, _, forced = local_host().run(remote.stop_command(proc, 10)).stdout.split()
    assert (how, forced) == ("stopped", "0") and not process.group_members(proc.pid)
    assert mark.read_text() == "ready"  # its child was ended by it, never by our SIGTERM


def test_the_node_kills_a_process_ignoring_sigterm_after_the_grace(tmp_path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    proc = start_local(tmp_path, [sys.executable, "-c", code], dict(ENV, PATH=os.environ["PATH"]))
    time.sleep(0.5)  # let it install its handler
    out = local_host().run(remote.stop_command(proc, 0.5))
    how, ms, forced = out.stdout.split()
    assert (how, forced) == ("killed", "1") and int(ms) >= 500
    assert not process.alive(proc)


def test_the_node_never_signals_a_pid_started_at_another_time(tmp_path):
    proc = start_local(tmp_path, ["sleep", "60"])
    try:
        stranger = process.Proc("svc", "local", proc.pid, proc.start_ticks + 1, proc.log)
        out = local_host().run(remote.stop_command(stranger, 1))
        assert out.stdout.split() == ["gone", "0", "0"]
        assert process.alive(proc)
    finally:
        process.stop(proc, 5)


def test_remote_stop_and_start_keep_the_cloud_record(cloud, tmp_path, monkeypatch):
    cloud.state_dir.mkdir(exist_ok=True)
    run = lifecycle.Launch(["sleep", "60"], ENV, tmp_path / "logs" / "nova-api.log")
    monkeypatch.setattr(lifecycle, "launch", lambda *a: run)
    host = local_host()
    first = remote.start(cloud, host, "nova", "controller", "nova-api", "2026.1")
    assert cloud.processes("controller", "nova-api") == [first]
    assert first.start_ticks == process._start_ticks(first.pid) and process.alive(first)
    assert cloud.record["releases"]["controller"]["nova-api"] == "2026.1"
    record = remote.stop(cloud, host, "controller", "nova-api", timeout=5)
    assert record.pid == first.pid and not record.forced
    assert cloud.processes("controller", "nova-api") == [] and not process.alive(first)
    assert cloud.record["stops"][-1]["pid"] == first.pid


def test_status_asked_through_a_host_equals_the_local_status(cloud, tmp_path):
    proc = start_local(tmp_path, ["sleep", "60"])
    try:
        gone = process.Proc("old", "controller", proc.pid, proc.start_ticks + 1, proc.log)
        cloud.record["processes"] = [
            dict(proc.to_dict(), node="controller", release="2026.1"),
            gone.to_dict(),
        ]
        local = [lifecycle.proc_status(p, {}) for p in cloud.processes()]
        assert [s.alive for s in local] == [True, False]
        assert remote.remote_status(cloud, "controller", local_host()) == local
    finally:
        process.stop(proc, 5)
