"""The probe worker's three probes against real sockets on loopback: a port that listens, one
that refuses, a server that answers and one that stops answering, a server process that
sends its stats and one that is stopped."""

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


def stats_server(answer: bytes | None, delay: float = 0.0) -> socket.socket:
    """A stats port: it sends `answer` (after `delay` s) and closes, or (None) accepts and
    never sends, as a stopped process's port does (the kernel completes the handshake)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve():
        held = []
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if answer is None:
                held.append(conn)
                continue
            with conn:
                time.sleep(delay)
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_alive_tells_a_process_that_answers_from_one_that_stopped():
    servers = [stats_server(b'{"workers": []}' * 500), stats_server(None), stats_server(b"")]
    try:
        answering, stopped, mute = (s.getsockname()[1] for s in servers)
        assert worker.alive_once("127.0.0.1", answering, 0.5, 1.0) is None
        began = time.monotonic()
        assert worker.alive_once("127.0.0.1", stopped, 0.25, 0.6) == "timeout"
        assert 0.6 <= time.monotonic() - began < 0.9  # awaited up to its patience, no more
        assert worker.alive_once("127.0.0.1", mute, 0.5, 1.0) == "empty"
        assert worker.alive_once("127.0.0.1", free_port(), 0.5, 1.0) == "refused"
    finally:
        for s in servers:
            s.close()


def test_alive_fails_a_late_answer_and_lasts_until_it_came():
    """A server process stopped 0.5 s answers when it continues: a failure (over the
    0.25 s bound) whose duration is the silence, not the bound."""
    servers = [stats_server(b"{}", delay=0.5)]
    try:
        began = time.monotonic()
        assert worker.alive_once("127.0.0.1", servers[0].getsockname()[1], 0.25, 5.0) == (
            "timeout")  # fmt: skip
        assert 0.5 <= time.monotonic() - began < 1.0
    finally:
        for s in servers:
            s.close()


def test_a_backend_without_a_stats_port_gets_no_alive_loop():
    assert worker.loops({"stats_port": 28774}) == ("connect", "http", "alive")
    assert worker.loops({"port": 8774}) == ("connect", "http")


def test_the_worker_writes_failures_ticks_and_stops_on_its_stop_file(tmp_path):
    import json

    stop = tmp_path / "stop"
    stats = stats_server(b"{}")  # its server process answers; its port refuses
    config = {"backends": [{"api": "x-api", "node": "n1", "address": "127.0.0.1",
                            "port": free_port(), "path": "/",
                            "stats_port": stats.getsockname()[1]}],
              "bridge": None, "ledger": str(tmp_path / "p.jsonl"), "stop_file": str(stop),
              "max_seconds": 30, "tick_s": 0.5, "connect_interval": 0.05,
              "http_interval": 0.2, "stall_s": 0.5, "connect_timeout": 0.5,
              "alive_interval": 0.1, "alive_timeout": 0.2}  # fmt: skip
    (tmp_path / "c.json").write_text(json.dumps(config))
    threading.Timer(1.2, stop.touch).start()
    assert worker.main(str(tmp_path / "c.json")) == 0
    records = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert "started" in records[0] and "stopped" in records[-1]
    failures = [r for r in records if "failure" in r]
    stats.close()
    assert {r["probe"] for r in failures} == {"connect", "http"}
    assert {r["failure"] for r in failures} == {"refused"}
    rows = [r["counts"]["x-api@n1"] for r in records if r.get("counts")]
    assert sum(row["connect"] for row in rows) >= 10 and sum(row["alive"] for row in rows) >= 5
    assert len(failures) == sum(row["connect"] + row["http"] for row in rows)
    # the slowest answer of its server process, per tick: answered, so under the bound
    slowest = [r["alive_ms"]["x-api@n1"] for r in records if r.get("alive_ms")]
    assert slowest and all(0 <= ms < 200 for ms in slowest), slowest
