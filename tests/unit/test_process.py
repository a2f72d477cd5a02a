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


def test_children_in_the_group_go_too(tmp_path):
    proc = process.spawn(
        "parent", "local", None, ["sh", "-c", "sleep 60 & sleep 60"], ENV, tmp_path / "p.log"
    )
    deadline = time.monotonic() + 5
    while len(process.group_members(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(process.group_members(proc.pid)) >= 2
    process.stop(proc, timeout=5)
    assert process.group_members(proc.pid) == []


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
