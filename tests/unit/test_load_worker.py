"""The load worker stops by itself when the cloud's bridge is gone: its requests to the VIP
must never outlive the cloud. (Its only target here is loopback.)"""

import json
import subprocess
import sys
import time

from harness.load.ledger import outcomes, read
from harness.services import ORDER


def config(tmp_path, bridge: str) -> dict:
    return {
        "vip": "127.0.0.1", "bridge": bridge,
        "endpoints": {s.project: "http://127.0.0.1:9" for s in ORDER if s.api},
        "apis": {s.project: s.api.name for s in ORDER if s.api},
        "username": "admin", "project": "admin",
        "password": "not-a-secret", "image": "i", "flavor": "f",
        "users": ["VersionClient"], "user_count": 1, "spawn_rate": 1, "timeout": 2,
        "think_time": [0.1, 0.2],
        "operation_timeout": 5, "microversion": "latest",
        "ledger": str(tmp_path / "requests.jsonl"), "stop_file": str(tmp_path / "stop"),
        "max_seconds": 60,
    }  # fmt: skip


def run_worker(tmp_path, cfg) -> tuple[int, float]:
    path = tmp_path / "load.json"
    path.write_text(json.dumps(cfg))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "harness.load.worker", str(path)],
                          capture_output=True, timeout=90)  # fmt: skip
    return done.returncode, time.monotonic() - started


def test_the_worker_stops_at_once_without_the_clouds_bridge(tmp_path):
    status, took = run_worker(tmp_path, config(tmp_path, "uh-no-such-bridge"))
    assert status == 0
    assert took < 30  # far below max_seconds (60): it did not run to its bound


def test_the_worker_runs_while_the_bridge_exists_and_stops_on_the_stop_file(tmp_path):
    # `lo` always exists: the worker must keep going until told to stop.
    cfg = config(tmp_path, "lo")
    path = tmp_path / "load.json"
    path.write_text(json.dumps(cfg))
    worker = subprocess.Popen([sys.executable, "-m", "harness.load.worker", str(path)])
    ledger = tmp_path / "requests.jsonl"
    # Until it has recorded a version request (importing locust takes seconds on a busy machine),
    # bounded: a worker that records nothing fails below.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        if ledger.exists() and '"name": "nova GET /"' in ledger.read_text():
            break
        time.sleep(0.5)
    assert worker.poll() is None
    (tmp_path / "stop").touch()
    assert worker.wait(timeout=30) == 0
    lines = (tmp_path / "requests.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["record"] == "request" for line in lines)
    assert {json.loads(line)["api"] for line in lines} == {"nova-api"}  # tagged by the load
    # locust's own CSVs beside the ledger, flushed when the worker stopped
    stats = (tmp_path / "locust_stats.csv").read_text().splitlines()
    assert stats[0].startswith("Type,Name") and any("nova GET /" in row for row in stats[1:])


class FakeCloud:
    """Just enough of keystone, nova and cinder on loopback for one writer's server and
    volume lifecycles: each resource's status moves as the real APIs' do."""

    def __init__(self):
        self.servers, self.volumes = {}, {}

    def answer(self, method: str, path: str) -> tuple[int, dict, dict]:
        parts = path.strip("/").split("/")
        if path == "/v3/auth/tokens":
            return 201, {"token": {"project": {"id": "p1"}}}, {"X-Subject-Token": "t"}
        if parts[:2] == ["v2.1", "servers"]:
            return self.nova(method, parts[2:])
        if parts[:3] == ["v3", "p1", "volumes"]:
            return self.cinder(method, parts[3:])
        return 404, {}, {}

    def nova(self, method, rest):
        if method == "POST" and not rest:
            sid = f"s{len(self.servers) + 1}"
            self.servers[sid] = "ACTIVE"
            return 202, {"server": {"id": sid}}, {}
        if len(rest) == 1 and rest[0] in self.servers:
            if method == "DELETE":
                del self.servers[rest[0]]
                return 204, {}, {}
            return 200, {"server": {"status": self.servers[rest[0]]}}, {}
        if rest[1:2] == ["os-volume_attachments"]:
            if method == "POST":
                self.volumes[next(iter(self.volumes))] = "in-use"
                return 200, {"volumeAttachment": {}}, {}
            self.volumes[rest[2]] = "available"
            return 202, {}, {}
        return 404, {}, {}

    def cinder(self, method, rest):
        if method == "POST":
            vid = f"v{len(self.volumes) + 1}"
            self.volumes[vid] = "available"
            return 202, {"volume": {"id": vid}}, {}
        if method == "DELETE":
            del self.volumes[rest[0]]
            return 202, {}, {}
        if rest and rest[0] in self.volumes:
            return 200, {"volume": {"status": self.volumes[rest[0]]}}, {}
        return 404, {}, {}


def serve(fake: FakeCloud):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def handle_one(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body, headers = fake.answer(self.command, self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            for k, v in {**headers, "X-OpenStack-Request-Id": f"req-{self.path}"}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = handle_one

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class ErrorAfterActive(FakeCloud):
    """Nova setting a build to ERROR just after it showed ACTIVE (seen: the compute's last
    fanout cast of the build failed), then deleting it: ERROR with the delete running, ERROR
    with its task cleared (the build's failure handling, racing the delete), then gone."""

    AFTER_DELETE = [("ERROR", "deleting"), ("ERROR", None), None]

    def nova(self, method, rest):
        sid = rest[0] if len(rest) == 1 else None
        if sid in self.servers and method == "GET":
            states = self.servers[sid]
            state = states.pop(0) if len(states) > 1 else states[0]
            if state is None:
                del self.servers[sid]
                return 404, {}, {}
            status, task = state
            return 200, {"server": {"status": status, "OS-EXT-STS:task_state": task}}, {}
        if sid in self.servers and method == "DELETE":
            self.servers[sid] = list(self.AFTER_DELETE)
            return 204, {}, {}
        code, body, headers = super().nova(method, rest)
        if method == "POST" and not rest:
            self.servers[body["server"]["id"]] = [("ACTIVE", None), ("ERROR", None)]
        return code, body, headers


def run_writer(tmp_path, fake: FakeCloud, until: str, linger: float = 0,
               network: str | None = None) -> list[dict]:  # fmt: skip
    """One Writer against `fake` until its ledger holds `until` (and `linger` seconds
    more): the ledger's records."""
    server = serve(fake)
    try:
        cfg = config(tmp_path, "lo")
        url = f"http://127.0.0.1:{server.server_address[1]}"
        cfg.update(users=["Writer"], endpoints={p: url for p in cfg["endpoints"]},
                   network=network)  # fmt: skip
        path = tmp_path / "load.json"
        path.write_text(json.dumps(cfg))
        worker = subprocess.Popen([sys.executable, "-m", "harness.load.worker", str(path)])
        ledger = tmp_path / "requests.jsonl"
        deadline = time.monotonic() + 60  # bounded: a writer that never gets there fails below
        while time.monotonic() < deadline and worker.poll() is None:
            if ledger.exists() and until in ledger.read_text():
                break
            time.sleep(0.5)
        time.sleep(linger)
        (tmp_path / "stop").touch()
        assert worker.wait(timeout=30) == 0
    finally:
        server.shutdown()
    return [json.loads(line) for line in ledger.read_text().splitlines()]


def test_a_writer_records_a_volumes_create_attach_detach_and_delete(tmp_path):
    records = run_writer(tmp_path, FakeCloud(), '"volume-delete"')
    ops = [(r["kind"], r["resource_id"], r["final"]) for r in records
           if r["record"] == "operation" and r["kind"].startswith("volume-")]  # fmt: skip
    assert ops[:4] == [("volume-create", "v1", "available"),
                       ("volume-attach", "v1", "in-use"),
                       ("volume-detach", "v1", "available"),
                       ("volume-delete", "v1", "DELETED")]  # fmt: skip
    cinder = {r["name"] for r in records if r["record"] == "request" and r["api"] == "cinder-api"}
    assert "cinder POST /v3/{project}/volumes" in cinder


def test_a_build_in_error_when_its_delete_began_is_the_creates_loss_not_the_deletes(tmp_path):
    records = run_writer(tmp_path, ErrorAfterActive(), '"server-delete"')
    ops = [r for r in records if r["record"] == "operation" and r["resource_id"] == "s1"]
    written = [(r["kind"], r["final"]) for r in ops]
    assert written[0] == ("server-create", "ACTIVE")  # what the load saw first
    assert ("server-delete", "DELETED") in written  # the delete, judged on its own
    ops = outcomes(read(tmp_path / "requests.jsonl")[1])
    last = {(op.kind, op.resource_id): op.final for op in ops}
    assert last[("server-create", "s1")] == "ERROR"  # the create's last word


class AttachNeverEnds(FakeCloud):
    """An attach nova accepted but its compute has not finished when the load stops."""

    def __init__(self):
        super().__init__()
        self.deleted: list[str] = []

    def nova(self, method, rest):
        if rest[1:2] == ["os-volume_attachments"] and method == "POST":
            self.volumes[next(iter(self.volumes))] = "attaching"
            return 200, {"volumeAttachment": {}}, {}
        if method == "DELETE":
            self.deleted.append("/".join(rest))
        return super().nova(method, rest)


def test_a_load_stopping_during_an_attach_leaves_its_server_to_the_settling(tmp_path):
    # a CI run's writer, asked to stop while an attach was pending, deleted the server: the
    # attach then ended "available" (detached by the delete) and was counted lost
    fake = AttachNeverEnds()
    records = run_writer(tmp_path, fake, '"volume-create"', linger=3)
    attach = [r for r in records if r["record"] == "operation" and r["kind"] == "volume-attach"]
    assert [r["final"] for r in attach] == ["pending"]
    assert fake.deleted == [] and not any(r.get("kind") == "server-delete" for r in records)


class WithPorts(FakeCloud):
    """A server booted on a network gets a port, DOWN until its agents have reported (two
    looks here), then ACTIVE; or, with `bind=False`, one ML2 could not bind."""

    def __init__(self, bind: bool = True):
        super().__init__()
        self.bind, self.ports = bind, {}

    def answer(self, method, path):
        if path.startswith("/v2.0/ports?device_id="):
            sid = path.split("=", 1)[1]
            return 200, {"ports": [{"id": f"port-{sid}"}] if sid in self.servers else []}, {}
        if path.startswith("/v2.0/ports/"):
            pid = path.rsplit("/", 1)[1]
            looks = self.ports[pid] = self.ports.get(pid, 0) + 1
            vif = "ovs" if self.bind else "binding_failed"
            status = "ACTIVE" if self.bind and looks > 2 else "DOWN"
            return 200, {"port": {"status": status, "binding:vif_type": vif}}, {}
        return super().answer(method, path)


def test_a_servers_port_on_the_loads_network_is_followed_until_active(tmp_path):
    records = run_writer(tmp_path, WithPorts(), '"port-up"', network="n1")
    ups = [(r["resource_id"], r["final"], r["request_id"]) for r in records
           if r["record"] == "operation" and r["kind"] == "port-up"]  # fmt: skip
    create = next(r for r in records if r.get("kind") == "server-create")
    # under the create's request id: the failed-requests join finds what lost it
    assert ups[0] == ("port-s1", "ACTIVE", create["request_id"])


def test_a_port_ml2_could_not_bind_ends_the_operation_unbound(tmp_path):
    records = run_writer(tmp_path, WithPorts(bind=False), '"port-up"', network="n1")
    ups = [r["final"] for r in records if r.get("kind") == "port-up"]
    assert ups[0] == "binding_failed"
    ops = outcomes(read(tmp_path / "requests.jsonl")[1])
    assert [op.final for op in ops if op.kind == "port-up"][0] != "ACTIVE"  # lost, judged so
