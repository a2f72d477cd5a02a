"""A side of the roll: what runs before (from) or after (to) — a catalogued series, with
source trees in place of some of its projects and optionally an upper-constraints file.

In a scenario, `releases.from` / `releases.to` is a series name, or
`{series: 2026.2, sources: {nova: PATH}, constraints: PATH}`; on the command line,
`--source nova=PATH` and `--constraints PATH` give the target side's. A target the
catalog does not list yet (`series: master`) is named as the scenario names it; its
projects without a source are the newest catalogued release's, and its dependencies come
from the constraints it must give (there is no lock for it).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError
from harness.releases import catalog, sdists
from harness.releases import constraints as constraints_mod
from harness.releases import sources as sources_mod
from harness.releases.cache import default_cache_dir
from harness.releases.catalog import Series
from harness.releases.constraints import Constraints
from harness.releases.sources import Source


@dataclass(frozen=True)
class Side:
    series: Series
    sources: tuple[Source, ...] = ()
    constraints: Constraints | None = None

    @property
    def name(self) -> str:
        return self.series.name

    def record(self) -> dict:
        return {"sources": [s.record() for s in self.sources],
                "constraints": self.constraints.record() if self.constraints else None}  # fmt: skip

    def replay_args(self) -> list[str]:
        """The command line that gives the target side these sources and constraints."""
        args = [f"--source {shlex.quote(s.spec)}" for s in self.sources]
        if self.constraints:
            args.append(f"--constraints {shlex.quote(str(self.constraints.path))}")
        return args


def from_data(data: str | dict, base: Path, inspect: bool = True) -> Side:
    """A scenario's `releases.from` or `releases.to`; relative paths are the scenario's.
    `inspect=False`: the series alone, its sources and constraints left unread."""
    if isinstance(data, str):
        return Side(catalog.get(data))
    series = _series(data)
    if not inspect:
        return Side(series)
    found = []
    for name, spec in (data.get("sources") or {}).items():
        project = sources_mod.project_name(name)
        found.append(_source(project, spec, series, base))
    if len({s.project for s in found}) != len(found):
        raise UserError("A project is given two sources (e.g. placement and openstack-placement).")
    cons = data.get("constraints")
    loaded = constraints_mod.load((base / Path(cons).expanduser()).resolve()) if cons else None
    return Side(series, tuple(found), loaded)


def _series(data: dict) -> Series:
    """The side's series: a catalogued one, or one the catalog does not list yet (master)
    when the side gives the constraints its dependencies resolve under."""
    name = data["series"]
    if catalog.is_catalogued(name):
        return catalog.get(name)
    if not data.get("constraints"):
        known = ", ".join(catalog.CATALOG)
        raise UserError(
            f"Release {name!r} is not in the catalog ({known}); a side the catalog does not "
            "list needs upper-constraints for its dependencies (constraints: FILE, or "
            "--constraints FILE)."
        )
    return catalog.unreleased(name)


def _source(project: str, spec: str | dict, series: Series, base: Path) -> Source:
    """A tree at `path`, or (with `patch` alone) the series' own sdist with the diff applied."""
    if isinstance(spec, str):
        spec = {"path": spec}
    if "path" in spec:
        path = (base / Path(spec["path"]).expanduser()).resolve()
        return sources_mod.inspect(project, path, spec.get("version"))
    patch = (base / Path(spec["patch"]).expanduser()).resolve()
    if project not in series.versions:
        raise UserError(f"Series {series.name} has no {project} to patch.")
    tree = sdists.patched(project, series.versions[project], patch, default_cache_dir())
    return sources_mod.inspect(project, tree, spec.get("version"), patch)


def absolute(data: object, base: Path) -> object:
    """A scenario's data with its sides' relative paths (sources, patches, constraints)
    made absolute against `base`, its file's folder: a copy of it, a case moved elsewhere or
    a file that extends it still finds them."""
    if not isinstance(data, dict) or not isinstance(data.get("releases"), dict):
        return data
    releases = dict(data["releases"])
    for key, side in releases.items():
        if isinstance(side, dict):
            releases[key] = _absolute_side(side, base)
    return {**data, "releases": releases}


def _absolute_side(side: dict, base: Path) -> dict:
    def resolve(p):
        return str((base / Path(p).expanduser()).resolve()) if isinstance(p, str) else p

    side = dict(side)
    if "constraints" in side:
        side["constraints"] = resolve(side["constraints"])
    if isinstance(side.get("sources"), dict):
        side["sources"] = {
            name: resolve(spec) if isinstance(spec, str)
            else {k: resolve(v) if k in ("path", "patch") else v for k, v in spec.items()}
            if isinstance(spec, dict) else spec
            for name, spec in side["sources"].items()
        }  # fmt: skip
    return side


def with_overrides(data: str | dict, specs: list[str], constraints: Path | None,
                   base: Path) -> str | dict:  # fmt: skip
    """The scenario's `releases.to` with the command line's sources and constraints
    (absolute paths, so the cloud's record resolves them wherever it is read)."""
    if not specs and constraints is None:
        return data
    merged = {"series": data} if isinstance(data, str) else dict(data)
    sources = dict(merged.get("sources") or {})
    for spec in specs:
        project, path, version = sources_mod.parse_spec(spec, base)
        sources = {k: v for k, v in sources.items() if sources_mod.project_name(k) != project}
        sources[project] = {"path": str(path), **({"version": version} if version else {})}
    merged["sources"] = sources
    if constraints is not None:
        merged["constraints"] = str((base / constraints.expanduser()).resolve())
    return merged
