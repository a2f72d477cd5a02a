"""`harness up` at 2026.1 on real services, used as a user would, then `harness down`.

The tests run in file order on one cloud; the last one takes it down and proves that
nothing is left behind.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import urllib.request

from harness.backends.embedded import failover
from harness.backends.embedded.infra import haproxy, keepalived
from harness.scenario import load
from harness.services.nova import smoke

from .conftest import SCENARIO, footprint, harness

S = load(SCENARIO)
VIP = S.network.vip


def get(url: str, headers: dict | None = None, data: bytes | None = None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.headers, resp.read()  # headers: case-insensitive


def test_status_shows_every_process_running_on_the_base_release(cloud, state_dir):
    done = harness(state_dir, "status")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for node, name in [("controller", "nova-conductor"), ("controller", "nova-scheduler"),
                       ("controller", "nova-compute"), ("compute-api", "nova-compute"),
                       ("controller", "nova-api"), ("compute-api", "nova-api"),
                       ("compute-api", "neutron-api"), ("controller", "keystone-api")]:  # fmt: skip
        row = [ln for ln in lines if ln.split()[:2] == [node, name]]
        assert row and row[0].split()[2] == "2026.1" and row[0].endswith("running"), (node, name)
    assert done.stdout.count(" UP") == 12  # 6 APIs x 2 nodes behind HAProxy


def test_keystone_issues_a_token_through_the_vip(cloud):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"},
        "password": cloud.secrets.get("user-admin")}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}  # fmt: skip
    status, headers, raw = get(
        f"http://{VIP}:5000/v3/auth/tokens",
        {"Content-Type": "application/json"},
        json.dumps(body).encode(),
    )
    assert status == 201 and headers["X-Subject-Token"]
    catalog = {e["type"] for e in json.loads(raw)["token"]["catalog"]}
    assert {"identity", "compute", "placement", "image", "network"} <= catalog


def test_a_server_with_no_network_boots_active_and_is_deleted(cloud):
    result = smoke.boot_and_delete(cloud, timeout=180)
    assert result.active_after < result.deleted_after


def test_nova_version_document_comes_from_both_backends_named_by_the_header(cloud):
    seen = {}
    for _ in range(6):
        status, headers, raw = get(f"http://{VIP}:8774/")
        assert status == 200
        current = [v for v in json.loads(raw)["versions"] if v["id"] == "v2.1"][0]
        seen[headers[haproxy.SERVER_HEADER]] = current["version"]
    assert seen == {"controller": "2.103", "compute-api": "2.103"}


def test_infra_listens_on_the_controller_address_only(cloud):
    ns = cloud.netns(S.controller)
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "ss", "-ltnH"], capture_output=True, text=True
    ).stdout
    listening = {line.split()[3] for line in out.splitlines()}
    for port in ("3306", "5672", "4369"):
        assert f"{S.controller.address}:{port}" in listening
        assert f"0.0.0.0:{port}" not in listening and f"*:{port}" not in listening


def test_admin_socket_is_private(cloud):
    for node in S.balancers:
        mode = stat.S_IMODE(os.stat(haproxy.admin_socket(cloud, node.name)).st_mode)
        assert mode == 0o600, node.name


def answered_through_the_vip() -> int:
    status, _, _ = get(f"http://{VIP}:5000/v3")
    return status


def test_keepalived_moves_the_vip_when_its_holders_haproxy_stops(cloud):
    """Both nodes run HAProxy; keepalived holds the VIP on one. Its HAProxy stopped, the
    check fails and the VIP moves; HAProxy comes back on the old holder, which does not
    take the VIP back (nopreempt)."""
    assert len(keepalived.holders(cloud)) == 1 and len(haproxy.balancers(cloud)) == 2
    m = failover.vip_failover(cloud, "stop-vip-haproxy")
    assert m["new_holder"] != m["holder"] and keepalived.holders(cloud) == [m["new_holder"]]
    # refused until the VIP moved: the check's two failures, 1 s apart, and the handover
    assert m["failed_probes"] > 0 and 0 < m["unanswered_s"] < 5, m
    assert len(haproxy.balancers(cloud)) == 2 and answered_through_the_vip() == 200
    assert set(haproxy.server_status(cloud).values()) == {"UP"}


def test_the_vip_moves_when_its_holders_keepalived_is_killed(cloud):
    """SIGKILL sends no priority-0 advert: the peer takes over on its master-down timer
    (≈3.6 s), while the old holder's HAProxy still answers on its stale copy of the VIP;
    keepalived started again there removes that copy."""
    m = failover.vip_failover(cloud, "kill-vip-keepalived")
    assert m["new_holder"] != m["holder"] and 3 < m["moved_s"] < 10, m
    assert keepalived.holders(cloud) == [m["new_holder"]]
    assert answered_through_the_vip() == 200


def test_down_leaves_nothing_behind(cloud, state_dir):
    pids = [p.pid for p in cloud.processes()]
    assert len(pids) >= 18
    assert not footprint(state_dir).empty()
    done = harness(state_dir, "down")
    assert done.returncode == 0, done.stderr
    after = footprint(state_dir)
    assert after.empty(), after
    assert not (state_dir / "cloud.json").exists()
    assert harness(state_dir, "status").stdout.strip() == "no cloud is up"
