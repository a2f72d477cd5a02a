"""The SSH transport end to end: sshd in both embedded nodes' namespaces, and the cloud
driven through testinfra's ssh backend — status, a service restart and the host checks —
so the path devstack nodes will be reached by runs against real hosts.

The tests run in file order on one cloud at 2026.1; the last one takes it down and proves
that nothing, sshd included, is left behind. Timings are printed (pytest -s shows them).
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

from harness import process
from harness.backends import hostcheck, hosts
from harness.backends.embedded import lifecycle, operations, remote, ssh
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy
from harness.plan import planner
from harness.scenario import load

from .conftest import SCENARIO, footprint, harness

S = load(SCENARIO)
BASE = S.release_from


def timed(what: str, fn, *args, **kw):
    started = time.monotonic()
    result = fn(*args, **kw)
    print(f"\n[ssh e2e] {what}: {time.monotonic() - started:.2f} s")
    return result


def listening(cloud: Cloud, node) -> set[str]:
    out = subprocess.run(["ip", "netns", "exec", cloud.netns(node), "ss", "-ltnH"],
                         capture_output=True, text=True).stdout  # fmt: skip
    return {line.split()[3] for line in out.splitlines()}


def ssh_run(cloud: Cloud, node, *options: str) -> subprocess.CompletedProcess:
    cmd = ["ssh", *options, f"root@{node.address}", "id -u"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_sshd_runs_on_each_node_address_and_lets_root_in_by_the_cloud_key_only(
    cloud, state_dir, tmp_path
):
    for node in S.nodes:
        proc = timed(f"start sshd on {node.name}", ssh.start_sshd, cloud, node)
        assert process.alive(proc)
        assert f"{node.address}:22" in listening(cloud, node)
        assert not {"0.0.0.0:22", "*:22", "[::]:22"} & listening(cloud, node)
    assert len(Cloud.load(state_dir).processes(name="sshd")) == 2  # `down` will find them
    f = ssh.files(cloud)
    for path in (f.host_key, f.client_key, f.authorized_keys, f.client_config, f.known_hosts):
        assert oct(path.stat().st_mode & 0o777) == "0o600", path

    node = S.controller
    done = timed("one ssh command", ssh_run, cloud, node, "-F", str(f.client_config))
    assert (done.returncode, done.stdout.strip()) == (0, "0"), done.stderr
    assert node.address in f.known_hosts.read_text()  # accepted on first use, kept in state

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    refused = ssh_run(cloud, node, "-F", "/dev/null", "-i", str(other), "-o", "IdentitiesOnly=yes",
                      "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                      "-o", "UserKnownHostsFile=/dev/null")  # fmt: skip
    assert refused.returncode == 255 and "Permission denied (publickey)" in refused.stderr


def test_status_over_ssh_is_the_local_status(cloud, state_dir):
    _, local, _ = lifecycle.status(state_dir)
    cloud = Cloud.load(state_dir)
    for node in S.nodes:
        host = hosts.host_for(cloud, node, "ssh")
        rows = timed(f"status of {node.name} over SSH", remote.remote_status, cloud, node, host)
        assert rows == [r for r in local if r.node == node.name]
        assert rows and all(r.alive for r in rows), rows
        services = [r for r in rows if r.name not in lifecycle.INFRA]
        assert len(services) >= 6 and {r.release for r in services} == {BASE}, services


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers


def test_nova_api_restarts_over_ssh_and_serves_through_the_vip_again(cloud, state_dir):
    cloud = Cloud.load(state_dir)
    node = S.node("compute-api")
    old = cloud.processes(node.name, "nova-api")[-1]
    host = hosts.host_for(cloud, node, "ssh")
    # As the plan does it: drained first (an API serving requests may take the whole
    # grace to stop), admitted again once HAProxy has seen it healthy.
    operations.drain(cloud, "nova-api", node.name)
    stop, new = timed(
        "restart of nova-api on compute-api over SSH",
        remote.restart, cloud, host, "nova", node.name, "nova-api", BASE,
    )  # fmt: skip
    operations.admit(cloud, "nova-api", (node.name,), ())
    print(f"[ssh e2e] nova-api stopped in {stop.waited:.2f} s (forced: {stop.forced})")
    # A uwsgi API sometimes outlasts the SIGTERM grace (README: findings); then the stop
    # over SSH must have killed it, as the local one does.
    assert stop.pid == old.pid and (not stop.forced or stop.waited >= S.services.stop_timeout)
    assert new.pid != old.pid and not process.alive(old) and process.alive(new)
    # Started on the node itself: in its namespace, its own session, the harness's log.
    ns = subprocess.run(["ip", "netns", "identify", str(new.pid)], capture_output=True, text=True)
    assert ns.stdout.strip() == cloud.netns(node)
    assert new.log == str(cloud.log_path(node, "nova-api"))
    assert process.parse_stat(Path(f"/proc/{new.pid}/stat").read_text())[3] == str(new.pid)

    record = Cloud.load(state_dir)
    assert [p.pid for p in record.processes(node.name, "nova-api")] == [new.pid]
    assert record.record["stops"][-1]["pid"] == old.pid
    assert haproxy.server_status(record)[("nova-api", node.name)] == "UP"
    backends = set()
    for _ in range(8):
        status, headers = get(record.vip_url(8774, "/"))
        assert status == 200
        backends.add(headers[haproxy.SERVER_HEADER])
    assert backends == {"controller", "compute-api"}
    done = harness(state_dir, "status")
    row = [ln for ln in done.stdout.splitlines() if ln.split()[:2] == [node.name, "nova-api"]]
    assert row and str(new.pid) in row[0] and BASE in row[0] and row[0].endswith("running")


def test_host_checks_over_ssh_match_those_over_netns(cloud, state_dir):
    cloud = Cloud.load(state_dir)
    plan = planner.build(cloud.scenario, 42)
    netns = timed("host checks over netns", hostcheck.check_hosts, cloud, plan, BASE)
    over_ssh = timed("host checks over SSH", hostcheck.check_hosts, cloud, plan, BASE, "ssh")
    assert all(url.startswith("ssh://root@") for url in over_ssh["hosts"].values())

    def key(c):
        return c["node"], c["check"]

    assert sorted(map(key, over_ssh["checks"])) == sorted(map(key, netns["checks"]))
    verdicts = {key(c): (c["ok"], c["actual"]) for c in netns["checks"]}
    for c in over_ssh["checks"]:
        assert (c["ok"], c["actual"]) == verdicts[key(c)], c
    by_kind = {}
    for c in over_ssh["checks"]:
        by_kind.setdefault(c["check"].split()[0], []).append(c["ok"])
    print(f"[ssh e2e] {len(over_ssh['checks'])} checks: "
          + ", ".join(f"{k} {sum(v)}/{len(v)} ok" for k, v in sorted(by_kind.items())))  # fmt: skip
    # At the base release, before any roll: every process, socket and backend is as it
    # should be; only the pin the plan will set is not there yet.
    assert all(by_kind["release"]) and all(by_kind["listening"]) and all(by_kind["backend"])
    assert not any(by_kind["config"])


def test_down_leaves_nothing_sshd_included(cloud, state_dir):
    assert Cloud.load(state_dir).processes(name="sshd")
    done = timed("harness down", harness, state_dir, "down")
    assert done.returncode == 0, done.stderr
    after = footprint(state_dir)
    assert after.empty(), after
    assert not (state_dir / "ssh").exists()  # the cloud's keys go with it
    ssh_dir = str(state_dir / "ssh")
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if ssh_dir in cmdline:
                left.append(cmdline)
    assert not left
