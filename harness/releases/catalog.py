"""The release catalog: series → package versions and a dependency resolution date.

Adding a series is one entry here plus its lock file (`harness lock SERIES`). Each series
is resolved against the libraries of its own time (`resolve_date`, passed to uv as
--exclude-newer): old code meets new libraries otherwise (the field notes saw neutron 28
answer every request 500 with today's neutron-lib).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError

LOCK_DIR = Path(__file__).parent / "locks"
SERIES_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # also a venv's folder name

# Packages every release venv carries besides the services: the DB driver, the WSGI server,
# and the memcache client of oslo.cache's memcache_pool backend (without it every service
# logs an ERROR the first time it loads oslo.cache's backends, as no deployment does).
SUPPORT_PACKAGES = ("PyMySQL", "uwsgi", "python-memcached")

# Each service's PyPI project (harness/services/<project>/service.py: `package`; a unit
# test ties the two lists), in the order the rows below give their versions.
PROJECTS = ("keystone", "openstack-placement", "glance", "nova", "neutron", "cinder")


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


def _row(name: str, resolve_date: str, **versions: str) -> Series:
    """One series: its projects' versions by name (PyPI's dashes as underscores)."""
    pinned = {p.replace("_", "-"): v for p, v in versions.items()}
    if set(pinned) != set(PROJECTS):
        raise ValueError(f"series {name} pins {sorted(pinned)}, not {sorted(PROJECTS)}")
    return Series(name, resolve_date, {p: pinned[p] for p in PROJECTS})


# The newest point release of each project published by the resolution date, which is
# about three weeks after the coordinated release.
CATALOG: dict[str, Series] = {
    s.name: s
    for s in (
        _row("2025.1", "2025-04-23", keystone="27.0.0", openstack_placement="13.0.0",
             glance="30.0.0", nova="31.0.0", neutron="26.0.0",
             cinder="26.0.0"),
        _row("2025.2", "2025-10-22", keystone="28.0.0", openstack_placement="14.0.0",
             glance="31.0.0", nova="32.0.0", neutron="27.0.0",
             cinder="27.0.0"),
        _row("2026.1", "2026-04-20", keystone="29.0.1", openstack_placement="15.0.0",
             glance="32.0.0", nova="33.0.0", neutron="28.0.0",
             cinder="28.0.0"),
        _row("2026.2", "2026-10-21", keystone="30.0.0", openstack_placement="16.0.0",
             glance="33.0.0", nova="34.0.0", neutron="29.0.0",
             cinder="29.0.0"),
    )
}  # fmt: skip


def get(name: str) -> Series:
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join(CATALOG)
        raise UserError(f"Unknown release {name!r}; the catalog has {known}.") from None


def unreleased(name: str) -> Series:
    """A series the catalog does not list yet (master, the next one): its projects are the
    newest catalogued release's, except those given a source; it has no lock, so its
    dependencies come from the upper-constraints the side must give."""
    if not SERIES_NAME.fullmatch(name):
        raise UserError(f"Release name {name!r} is not a name (letters, digits, . _ -).")
    newest = list(CATALOG.values())[-1]
    return Series(name, "", dict(newest.versions))


def is_catalogued(name: str) -> bool:
    return name in CATALOG


def precedes(name: str, other: str) -> bool:
    """Whether series `name` is catalogued before `other` (one not catalogued, master or
    the next, comes after every catalogued one)."""
    names = list(CATALOG)
    return name in CATALOG and names.index(name) < names.index(get(other).name)


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
