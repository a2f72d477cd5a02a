"""The release catalog: series → package versions and a dependency resolution date.

Adding a series is one entry here plus its lock file (`harness lock SERIES`). Each series
is resolved against the libraries of its own time (`resolve_date`, passed to uv as
--exclude-newer): old code meets new libraries otherwise (the field notes saw neutron 28
answer every request 500 with today's neutron-lib).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError

LOCK_DIR = Path(__file__).parent / "locks"

# Packages every release venv carries besides the services: the DB driver and the WSGI server.
SUPPORT_PACKAGES = ("PyMySQL", "uwsgi")

PROJECTS = ("keystone", "openstack-placement", "glance", "nova", "neutron")


@dataclass(frozen=True)
class Series:
    name: str
    resolve_date: str  # ISO date; dependencies resolved as of this day
    versions: dict[str, str]  # PyPI project → version

    @property
    def lock_file(self) -> Path:
        return LOCK_DIR / f"{self.name}.txt"

    def requirements(self) -> list[str]:
        return [f"{p}=={v}" for p, v in self.versions.items()] + list(SUPPORT_PACKAGES)


def _series(name: str, resolve_date: str, nova, keystone, placement, glance, neutron) -> Series:
    versions = {
        "keystone": keystone,
        "openstack-placement": placement,
        "glance": glance,
        "nova": nova,
        "neutron": neutron,
    }
    return Series(name, resolve_date, versions)


# The newest point release of each project published by the resolution date, which is
# about three weeks after the coordinated release.
CATALOG: dict[str, Series] = {
    s.name: s
    for s in (
        _series("2025.1", "2025-04-23", "31.0.0", "27.0.0", "13.0.0", "30.0.0", "26.0.0"),
        _series("2025.2", "2025-10-22", "32.0.0", "28.0.0", "14.0.0", "31.0.0", "27.0.0"),
        _series("2026.1", "2026-04-20", "33.0.0", "29.0.1", "15.0.0", "32.0.0", "28.0.0"),
        _series("2026.2", "2026-10-21", "34.0.0", "30.0.0", "16.0.0", "33.0.0", "29.0.0"),
    )
}


def get(name: str) -> Series:
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join(CATALOG)
        raise UserError(f"Unknown release {name!r}; the catalog has {known}.") from None


def next_of(name: str) -> Series | None:
    names = list(CATALOG)
    i = names.index(get(name).name)
    return CATALOG[names[i + 1]] if i + 1 < len(names) else None


def uv_binary() -> str:
    """uv ships as a dependency of the harness; prefer the one beside our interpreter."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise UserError("uv is not installed; install the harness with its dependencies.")
    return found
