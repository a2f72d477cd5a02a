"""The peak memory of a cloud: RSS summed over every process in its namespaces, sampled
twice a second while a benchmark runs (bench/cloud_up.py, bench/roll.py; run as scripts,
bench/ is on their path)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from harness.backends.embedded import netns
from harness.scenario import Scenario


class PeakRss(threading.Thread):
    def __init__(self, namespaces: list[str]):
        super().__init__(daemon=True)
        self.namespaces, self.peak, self.running = namespaces, 0, True
        self.at_peak: dict[str, int] = {}  # process name → its RSS in the peak's sample
        # The same with each shared page divided among its sharers (every Python service
        # maps the same interpreter and libraries): what the cloud costs the machine.
        self.pss_peak = 0

    @classmethod
    def of(cls, scenario: Scenario) -> PeakRss:
        return cls([netns.netns_name(scenario.network, n) for n in scenario.nodes])

    def run(self):
        while self.running:
            sample: dict[str, int] = {}
            pss = 0
            for ns in self.namespaces:
                for pid in netns.pids_in(ns):
                    name = _name(pid)
                    sample[name] = sample.get(name, 0) + _rss(pid)
                    pss += _kib(pid, "smaps_rollup", "Pss:")
            total = sum(sample.values())
            if total > self.peak:
                self.peak, self.at_peak = total, sample
            self.pss_peak = max(self.pss_peak, pss)
            time.sleep(0.5)

    def stop(self) -> float:
        """Stop sampling; the peak in GiB."""
        self.running = False
        self.join()
        return self.peak / 2**30

    def largest(self, n: int = 12) -> str:
        """The peak's largest processes (summed by name), for the benchmark's printout."""
        top = sorted(self.at_peak.items(), key=lambda kv: -kv[1])[:n]
        return ", ".join(f"{name} {rss / 2**20:.0f} MiB" for name, rss in top)


def _name(pid: int) -> str:
    """A process's name: an API's uwsgi by the folder of its ini, a script by its file."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    ini = next((a for a in argv if a.endswith("uwsgi.ini")), None)
    if ini:
        return Path(ini).parent.name
    script = argv[1] if len(argv) > 1 and "python" in Path(argv[0]).name else argv[0]
    # a service that sets its process title ("nova-conductor: master process [...]")
    return Path(script.split()[0].rstrip(":")).name if script.strip() else "?"


def _rss(pid: int) -> int:
    return _kib(pid, "status", "VmRSS:")


def _kib(pid: int, file: str, field: str) -> int:
    """A /proc/<pid>/<file> size field, in bytes (0 for a process gone meanwhile)."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
