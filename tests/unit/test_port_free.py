"""An API's successor starts only once nothing listens on its port any more."""

import socket
import threading
from types import SimpleNamespace

import pytest

from harness.backends.embedded import operations
from harness.errors import StepFailed

NODE = SimpleNamespace(address="127.0.0.1")
CLOUD = SimpleNamespace(scenario=SimpleNamespace(node=lambda name: NODE))


def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_waits_until_the_old_listener_is_gone():
    sock = listener()
    port = sock.getsockname()[1]
    threading.Timer(1.0, sock.close).start()
    operations.wait_port_free(CLOUD, "n", port, timeout=10)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_a_port_still_held_is_a_failed_step():
    sock = listener()
    try:
        with pytest.raises(StepFailed, match="still listens there"):
            operations.wait_port_free(CLOUD, "n", sock.getsockname()[1], timeout=1)
    finally:
        sock.close()
