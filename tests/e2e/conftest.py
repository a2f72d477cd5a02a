"""End-to-end fixtures: a real embedded cloud, driven through the `harness` CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.backends.embedded import netns, prereqs
from harness.backends.embedded.cloud import Cloud
from harness.scenario import load

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SCENARIO = HERE / "e2e-cloud.yaml"
STATE_ROOT = Path("/var/lib/upgrade-harness-tests")


def _skip_reason() -> str | None:
    if not prereqs.is_root():
        return "end-to-end tests need root (network namespaces, MariaDB as the mysql user)"
    ok, detail = prereqs.netns_works()
    if not ok:
        return f"end-to-end tests need network namespaces: {detail}"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def harness(state_dir: Path, *args: str, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "harness", "--state-dir", str(state_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


OWNER = "pytest.pid"  # the test process a state dir belongs to


def new_state_dir() -> Path:
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE_ROOT, 0o755)
    path = STATE_ROOT / uuid.uuid4().hex[:8]
    path.mkdir()
    (path / OWNER).write_text(str(os.getpid()))
    return path


def _owner_alive(path: Path) -> bool:
    try:
        os.kill(int((path / OWNER).read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def bring_down_abandoned() -> list[Path]:
    """`harness down` every test cloud whose test process is gone (a run killed, or the
    machine's session ended mid-test): its processes are ended by the pids its state dir
    recorded, its namespaces and bridge removed. Without this, one killed run fails every
    later one on "a previous test cloud is still here"."""
    swept = []
    for path in sorted(STATE_ROOT.glob("*")) if STATE_ROOT.is_dir() else []:
        if path.is_dir() and not _owner_alive(path):
            harness(path, "down", timeout=300)
            shutil.rmtree(path, ignore_errors=True)
            swept.append(path)
    return swept


@dataclass
class Footprint:
    """What a cloud leaves on the machine: the thing `down` must reduce to nothing."""

    processes: list[str]
    namespaces: list[str]
    links: list[str]
    mounts: list[str]

    def empty(self) -> bool:
        return not (self.processes or self.namespaces or self.links or self.mounts)


def footprint(state_dir: Path, scenario_path: Path = SCENARIO) -> Footprint:
    s = load(scenario_path)
    names = {netns.netns_name(s.network, n) for n in s.nodes}
    marks = (str(state_dir), s.controller.address)
    procs = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z" and any(m in cmdline for m in marks) and "pytest" not in cmdline:
            procs.append(f"{entry.name} {cmdline[:120]}")
    return Footprint(
        processes=procs,
        namespaces=sorted(names & netns.existing_namespaces()),
        links=[s.network.bridge] if netns.link_exists(s.network.bridge) else [],
        mounts=[m for m in netns.namespace_mounts() if m.rsplit("/", 1)[1] in names],
    )


@pytest.fixture(scope="module")
def state_dir():
    bring_down_abandoned()
    path = new_state_dir()
    yield path
    harness(path, "down", timeout=300)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud(state_dir):
    """A test module's own cloud at the e2e scenario's base release, on a clean machine."""
    before = footprint(state_dir)
    assert before.empty(), f"a previous test cloud is still here: {before}"
    up = harness(state_dir, "up", str(SCENARIO))
    assert up.returncode == 0, up.stderr[-3000:]
    return Cloud.load(state_dir)
