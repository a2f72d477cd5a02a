"""The supervisor on real processes (no namespace needed)."""

import dataclasses
import os
import sys
import time

from harness import process

ENV = {"PATH": os.environ["PATH"]}


def test_sigterm_stops_a_well_behaved_process(tmp_path):
    proc = process.spawn("sleeper", "local", None, ["sleep", "60"], ENV, tmp_path / "s.log")
    assert process.alive(proc)
    record = process.stop(proc, timeout=10)
    assert not record.forced and record.waited < 10
    assert not process.alive(proc)


def test_a_process_ignoring_sigterm_is_killed_after_the_bound_and_it_is_recorded(tmp_path):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = process.spawn(
        "stubborn", "local", None, [sys.executable, "-c", code], ENV, tmp_path / "s.log"
    )
    deadline = time.monotonic() + 10
    while "ready" not in (tmp_path / "s.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    record = process.stop(proc, timeout=1.0)
    assert record.forced
    assert record.waited >= 1.0
    assert not process.alive(proc)


def test_a_stop_without_grace_is_a_crash_with_no_sigterm_first(tmp_path):
    """A fault's kill: the service's SIGTERM handler must not get to start a shutdown."""
    code = (
        "import signal, time\n"
        "def term(*_):\n"
        "    open('terminated', 'w').close()\n"
        "signal.signal(signal.SIGTERM, term)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = process.spawn("crashed", "local", None, [sys.executable, "-c", code], ENV,
                         tmp_path / "c.log", cwd=tmp_path)  # fmt: skip
    deadline = time.monotonic() + 10
    while "ready" not in (tmp_path / "c.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    record = process.stop(proc, timeout=0)
    assert record.forced and not process.alive(proc)
    time.sleep(0.2)
    assert not (tmp_path / "terminated").exists()


def test_children_in_the_group_go_too(tmp_path):
    proc = process.spawn(
        "parent", "local", None, ["sh", "-c", "sleep 60 & sleep 60"], ENV, tmp_path / "p.log"
    )
    deadline = time.monotonic() + 5
    while len(process.group_members(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(process.group_members(proc.pid)) >= 2
    assert not process.stop(proc, timeout=5, whole_group=True).forced
    assert process.group_members(proc.pid) == []
    # SIGTERM to the shell alone leaves its sleeps: they go at the bound, a forced kill
    proc = process.spawn(
        "parent", "local", None, ["sh", "-c", "sleep 60 & sleep 60"], ENV, tmp_path / "q.log"
    )
    while len(process.group_members(proc.pid)) < 2 and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    record = process.stop(proc, timeout=1)
    assert record.forced and process.group_members(proc.pid) == []


# A parent that ends its child as uwsgi's master ends a worker (SIGHUP), and a child that
# notes any SIGTERM it gets before it goes.
PARENT = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
def term(*_):
    child.send_signal(signal.SIGHUP)
    sys.exit(child.wait())
signal.signal(signal.SIGTERM, term)
time.sleep(60)
"""
CHILD = """
import pathlib, signal, sys, time
mark = pathlib.Path(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: (mark.write_text("SIGTERM"), sys.exit(1)))
signal.signal(signal.SIGHUP, lambda *_: sys.exit(0))
mark.write_text("ready")
time.sleep(60)
"""


def test_sigterm_goes_to_the_service_alone_which_ends_its_children_itself(tmp_path):
    """As devstack's units stop a service (KillMode=process): a uwsgi worker signalled
    beside its master hung in its exit (process.stop says how)."""
    mark = tmp_path / "child"
    argv = [sys.executable, "-c", PARENT, CHILD, str(mark)]
    proc = process.spawn("master", "local", None, argv, ENV, tmp_path / "m.log")
    deadline = time.monotonic() + 10
    while not (mark.exists() and mark.read_text() == "ready") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(process.group_members(proc.pid)) == 2
    record = process.stop(proc, timeout=10)
    assert not record.forced and process.group_members(proc.pid) == []
    assert mark.read_text() == "ready"  # the child never got a SIGTERM


def test_a_reused_pid_is_not_ours(tmp_path):
    proc = process.spawn("sleeper", "local", None, ["sleep", "60"], ENV, tmp_path / "s.log")
    impostor = dataclasses.replace(proc, start_ticks=proc.start_ticks + 1)
    assert not process.alive(impostor)
    assert process.stop(impostor, timeout=1).waited == 0.0  # never signalled
    assert process.alive(proc)
    process.stop(proc, timeout=5)


def test_one_shot_commands_append_to_their_log(tmp_path):
    log = tmp_path / "cmd.log"
    assert process.run(["sh", "-c", "echo one"], None, ENV, log, timeout=5).returncode == 0
    assert (
        process.run(
            ["sh", "-c", "read x; echo got $x; exit 3"], None, ENV, log, 5, stdin="two\n"
        ).returncode
        == 3
    )
    text = log.read_text()
    assert "one" in text and "got two" in text
