"""The probe worker's two probes against real sockets on loopback: a port that listens, one
that refuses, a server that answers and one that stops answering."""

from __future__ import annotations

import http.server
import socket
import threading
import time

from harness.probe import worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler(http.server.BaseHTTPRequestHandler):
    delay = 0.0
    status = 200

    def do_GET(self):
        time.sleep(self.delay)
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(delay: float = 0.0, status: int = 200):
    handler = type("H", (Handler,), {"delay": delay, "status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_connect_sees_a_listening_port_and_a_refusing_one():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert worker.connect_once("127.0.0.1", s.getsockname()[1], 1.0) is None
    assert worker.connect_once("127.0.0.1", free_port(), 1.0) == "refused"


def test_http_sees_an_answer_a_5xx_and_a_backend_that_stops_answering():
    servers = [serve(), serve(status=503), serve(delay=1.0)]
    try:
        ok, failing, stalled = (s.server_address[1] for s in servers)
        assert worker.http_once("127.0.0.1", ok, "/", 1.0) is None
        assert worker.http_once("127.0.0.1", failing, "/", 1.0) == "status 503"
        assert worker.http_once("127.0.0.1", stalled, "/", 0.3) == "timeout"
        assert worker.http_once("127.0.0.1", free_port(), "/", 0.3) == "refused"
    finally:
        for s in servers:
            s.shutdown()


def test_the_worker_writes_failures_ticks_and_stops_on_its_stop_file(tmp_path):
    import json

    stop = tmp_path / "stop"
    config = {"backends": [{"api": "x-api", "node": "n1", "address": "127.0.0.1",
                            "port": free_port(), "path": "/"}],
              "bridge": None, "ledger": str(tmp_path / "p.jsonl"), "stop_file": str(stop),
              "max_seconds": 30, "tick_s": 0.5, "connect_interval": 0.05,
              "http_interval": 0.2, "stall_s": 0.5, "connect_timeout": 0.5}  # fmt: skip
    (tmp_path / "c.json").write_text(json.dumps(config))
    threading.Timer(1.2, stop.touch).start()
    assert worker.main(str(tmp_path / "c.json")) == 0
    records = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert "started" in records[0] and "stopped" in records[-1]
    failures = [r for r in records if "failure" in r]
    assert {r["probe"] for r in failures} == {"connect", "http"}
    assert {r["failure"] for r in failures} == {"refused"}
    counted = sum(r["counts"]["x-api@n1"]["connect"] for r in records if r.get("counts"))
    assert counted >= 10 and len(failures) == counted + sum(
        r["counts"]["x-api@n1"]["http"] for r in records if r.get("counts")
    )
