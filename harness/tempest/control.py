"""Running tempest around and during a roll: once before it (the baseline), back to back
while it runs (so its runs span the drained API nodes, as nova's zero-downtime procedure
says to test), and once after it.

Each run is `tempest run --subunit` in its own session (so the harness can end it and
everything stestr forked, by its process group) from a work directory in the cloud's
state dir; its subunit stream goes to the run folder and its summary to runs.jsonl
(harness/tempest/ledger.py). Tempest's own log (requests and responses, tokens omitted)
goes to the run folder too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import process
from harness.progress import log
from harness.tempest import ledger

# A default set that finishes in about a minute here and touches every API the roll
# serves through the VIP: identity tokens, compute flavors, servers (boot, show, list,
# delete), image upload and download, networks and ports.
DEFAULT_REGEX = (
    r"^tempest\.api\.("
    r"identity\.v3\.test_tokens\.TokensV3Test"
    r"|compute\.flavors\.test_flavors\.FlavorsV2TestJSON"
    r"|compute\.servers\.test_create_server\.ServersTestJSON"
    r"|image\.v2\.test_images\.BasicOperationsImagesTest"
    r"|network\.test_networks\.NetworksTest\.test_(list|show)_networks?"
    r"|network\.test_ports\.PortsTestJSON\.test_(list|show)_ports?"
    r")\b"
)


@dataclass(frozen=True)
class TempestOptions:
    enabled: bool = True
    regex: str = DEFAULT_REGEX
    concurrency: int = 1  # one worker: the cloud's 2 cores are the roll's
    during: bool = True  # run again and again while the roll runs
    run_timeout: float = 900.0  # s one run may take before it is ended


Command = Callable[[list[str]], list[str]]  # `tempest run`'s arguments → the argv to run


def local(venv: Path, conf: Path) -> Command:
    """Tempest from the harness's venv with the config it wrote."""
    return lambda args: [str(venv / "bin" / "tempest"), "run", "--config-file", str(conf), *args]


class Tempest:
    def __init__(self, command: Command, work: Path, run_dir: Path, options: TempestOptions,
                 config: Path | None = None):  # fmt: skip
        """`config`: the tempest.conf the harness wrote for it, removed by close()."""
        self.command, self.work, self.options, self.config = command, work, options, config
        self.out = run_dir / ledger.FOLDER
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._stopping: float | None = None  # when stop_during asked the run to end
        self._loop: threading.Thread | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Remove its work dir and its config (which holds the admin password) from the
        state dir: the run folder keeps what tempest said."""
        shutil.rmtree(self.work, ignore_errors=True)
        if self.config is not None:
            self.config.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # their folder, unless something else is in it
            self.work.parent.rmdir()

    def run(self, label: str) -> dict:
        """One run to its end (or its timeout, or stop()); its record."""
        with self._lock:
            self.count += 1
            n = self.count
        stream = self.out / f"{n:02d}-{label}.subunit"
        started = time.time()
        status, cut = self._execute(stream)
        with open(stream, "rb") as f:
            tests = ledger.parse(f)
        record = {"run": n, "label": label, "started": started, "ended": time.time(),
                  "exit_status": status, "cut_short": cut,
                  "stopping": self._stopping if cut else None, "tests": tests}  # fmt: skip
        ledger.append(self.out / "runs.jsonl", record)
        failed = sum(t["status"] in ledger.FAILED for t in tests.values())
        log.info("tempest %s run %d: %d tests, %d failed, in %.0f s", label, n, len(tests),
                 failed, record["ended"] - started)  # fmt: skip
        return record

    def _execute(self, stream: Path) -> tuple[int | None, bool]:
        argv = self.command(["--regex", self.options.regex, "--concurrency",
                             str(self.options.concurrency), "--subunit"])  # fmt: skip
        env = dict(os.environ)
        if Path(argv[0]).is_absolute():  # a venv's tempest: its own scripts first on PATH
            env["PATH"] = f"{Path(argv[0]).parent}:{env.get('PATH', '')}"
        with open(stream, "wb") as out, open(self.out / "tempest-run.log", "ab") as err:
            proc = subprocess.Popen(argv, cwd=self.work, stdout=out, stderr=err, env=env,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            self._proc = proc
            try:
                return proc.wait(timeout=self.options.run_timeout), self._stop.is_set()
            except subprocess.TimeoutExpired:
                log.warning("tempest run took over %.0f s; ended", self.options.run_timeout)
                self._end(proc)
                return None, False  # not the harness's doing: what it did not run is judged
            except BaseException:  # a Ctrl-C: nothing of tempest's outlives the run
                self._end(proc)
                raise
            finally:
                self._proc = None

    def start_during(self) -> None:
        if not self.options.during:
            return
        self._stop.clear()
        self._loop = threading.Thread(target=self._during, name="tempest-during", daemon=True)
        self._loop.start()

    def _during(self) -> None:
        while not self._stop.is_set():
            try:
                self.run(ledger.DURING)
            except Exception as e:  # the roll goes on; the oracle judges what was recorded
                log.warning("a tempest run failed to run: %s", e)
                self._stop.wait(5)

    def stop_during(self) -> None:
        """End the loop; a run in progress is ended and recorded as cut short."""
        self._stopping = time.time()
        self._stop.set()
        proc = self._proc
        if proc is not None:
            self._end(proc)
        if self._loop is not None:
            self._loop.join(timeout=30)
            self._loop = None

    @staticmethod
    def _end(proc: subprocess.Popen) -> None:
        process.signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
