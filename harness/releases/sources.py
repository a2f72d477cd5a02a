"""Source trees: a project's code under review, rolled to in place of its locked release.

A source is a directory holding one project's tree — a git checkout (Zuul's, a developer's)
or an unpacked sdist. It is checked to be that project (setup.cfg's or pyproject.toml's
name), and given an identity: the commit plus a hash of what is not committed (for a git
checkout), or a hash of every file (for anything else). The identity is part of the venv's
cache key, so an edited checkout gets a new venv and an unchanged one is reused.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import tomllib
from packaging.version import Version

from harness.errors import UserError
from harness.releases.catalog import CATALOG, PROJECTS, Series

# What users call a project → its PyPI name (the catalog's).
# (A unit test ties it to the services' registry: each service's project and package.)
ALIASES = {"placement": "openstack-placement"}
PROJECT_OF = {package: project for project, package in ALIASES.items()}  # PyPI → service
# Files that are not the tree: build output and caches (an unpacked sdist has none).
NOT_THE_TREE = {".git", ".tox", "__pycache__", "build", "dist", ".eggs", ".stestr"}
VERSION = re.compile(r"^\d[\w.+!-]*$")


@dataclass(frozen=True)
class Source:
    project: str  # PyPI name
    path: Path
    digest: str  # the identity: changes when any file of the tree does
    commit: str | None = None  # git's HEAD, if a checkout
    dirty: bool = False  # uncommitted changes (a checkout), always False otherwise
    version: str | None = None  # given explicitly (pbr's PBR_VERSION); else pbr decides
    patch: Path | None = None  # the diff applied to the release's sdist, for a patched tree

    def record(self) -> dict:
        return {"project": self.project, "path": str(self.path), "commit": self.commit,
                "dirty": self.dirty, "digest": self.digest, "version": self.version,
                "patch": str(self.patch) if self.patch else None}  # fmt: skip

    @property
    def spec(self) -> str:
        """As the command line takes it: nova=PATH[@VERSION]."""
        return f"{self.project}={self.path}" + (f"@{self.version}" if self.version else "")


def project_name(name: str) -> str:
    canonical = canonicalize(name)
    canonical = ALIASES.get(canonical, canonical)
    if canonical not in PROJECTS:
        raise UserError(f"Unknown project {name!r} for a source; the harness rolls "
                        f"{', '.join(PROJECTS)}.")  # fmt: skip
    return canonical


def canonicalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_spec(spec: str, base: Path) -> tuple[str, Path, str | None]:
    """`nova=~/src/nova` or `nova=PATH@34.1.0` → (PyPI name, absolute path, version)."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise UserError(f"A source is PROJECT=PATH (e.g. nova=~/src/nova), not {spec!r}.")
    path, version = rest, None
    head, at, tail = rest.rpartition("@")
    if at and VERSION.match(tail):
        path, version = head, tail
    return project_name(name), (base / Path(path).expanduser()).resolve(), version


def inspect(project: str, path: Path, version: str | None = None,
            patch: Path | None = None) -> Source:  # fmt: skip
    """The source at `path`, checked to be `project`'s tree and identified."""
    if not path.is_dir():
        raise UserError(f"Source {path} for {project} does not exist or is not a directory.")
    found = declared_name(path)
    if found is None:
        raise UserError(f"Source {path} is not a Python project (no setup.cfg name, no "
                        "pyproject.toml name).")  # fmt: skip
    if canonicalize(found) != project:
        raise UserError(f"Source {path} is {found}, not {project}.")
    commit, dirty, digest = _identity(path)
    if commit is None and version is None and not (path / "PKG-INFO").exists():
        raise UserError(f"Source {path} has neither git metadata nor PKG-INFO, so pbr "
                        f"cannot version it; give the version ({project}=PATH@X.Y.Z).")  # fmt: skip
    return Source(project, path, digest, commit, dirty, version, patch)


def declared_name(path: Path) -> str | None:
    """The distribution name the tree declares: pbr's setup.cfg, else PEP 621."""
    cfg = path / "setup.cfg"
    if cfg.exists():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(cfg)
        if parser.has_option("metadata", "name"):
            return parser.get("metadata", "name").strip()
    toml = path / "pyproject.toml"
    if toml.exists():
        return tomllib.loads(toml.read_text()).get("project", {}).get("name")
    return None


def _identity(path: Path) -> tuple[str | None, bool, str]:
    top = _git(path, "rev-parse", "--show-toplevel")
    # A tree inside someone else's checkout (an sdist unpacked in a repo) is not a checkout.
    commit = _git(path, "rev-parse", "HEAD") if top and Path(top) == path.resolve() else None
    if commit is None:
        return None, False, _tree_digest(path)
    digest = hashlib.sha256(commit.encode())
    changes = _changes(path)
    digest.update(_git(path, "diff", "HEAD", "--binary", raw=True) or b"")
    for status, name in sorted(changes):
        if status == b"??":  # untracked: its content is not in the diff
            digest.update(name + b"\0" + _untracked(path / os.fsdecode(name)))
    return commit, bool(changes), digest.hexdigest()


def _untracked(path: Path) -> bytes:
    """What an untracked entry holds, for the digest: a symlink is its target (which may
    not exist), a nested checkout git lists as one entry (`sub/`) its own identity, a file
    its bytes."""
    if path.is_symlink():
        return b"symlink\0" + os.fsencode(os.readlink(path))
    if path.is_dir():
        commit, _, digest = _identity(path)
        return f"tree\0{commit}\0{digest}".encode()
    return path.read_bytes()


def _changes(path: Path) -> list[tuple[bytes, bytes]]:
    """(status, name) of each change `git status` lists. -z: names as they are, not quoted
    (a name with a space, a quote or a non-ASCII character is C-quoted in the plain output)."""
    out = _git(path, "status", "--porcelain", "-z", "--untracked-files=all", raw=True) or b""
    entries = iter(out.split(b"\0"))
    changes = []
    for entry in entries:
        if not entry:
            continue
        status, name = entry[:2], entry[3:]
        if b"R" in status or b"C" in status:  # a rename or copy: its source's name follows
            next(entries, None)
        changes.append((status, name))
    return changes


def _git(path: Path, *args: str, raw: bool = False):
    # safe.directory: a checkout owned by another user (Zuul's, as root) is still read.
    cmd = ["git", "-c", "safe.directory=*", "-C", str(path), *args]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=60)
    except FileNotFoundError:
        return None
    if done.returncode != 0:
        return None
    return done.stdout if raw else done.stdout.decode().strip()


def _tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path)
        if NOT_THE_TREE & set(rel.parts) or f.suffix == ".pyc" or ".egg-info" in str(rel) \
                or str(rel) == ".applied":  # fmt: skip
            continue
        digest.update(str(rel).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def check_series(src: Source, version: str, series: Series, catalogued: bool) -> None:
    """A source must be its side's code. Every rolled project bumps its major version once
    a series, so pbr's version says which series a tree is: a stable/2026.1 checkout given
    as the 2026.2 side would otherwise be rolled to and judged as 2026.2. A side the
    catalog does not list (master) is not older than the newest release: pbr may version
    master as that release's next patch (past its rc1 tag) until the next cycle tags it."""
    name = PROJECT_OF.get(src.project, src.project)
    major = Version(version).major
    series_of = {Version(s.versions[src.project]).major: s.name for s in CATALOG.values()}
    newest = max(series_of)
    wanted = Version(series.versions[src.project]).major
    if (major == wanted) if catalogued else (major >= newest):
        return
    if major in series_of:
        hint = f"roll it as the {series_of[major]} side"
    elif major > newest:
        hint = "roll it as a side the catalog does not list (releases.to: {series: master})"
    else:
        hint = "the catalog has no release it belongs to"
    want = f"{name} {wanted}.x" if catalogued else f"{name} {newest}.x or newer"
    raise UserError(f"Source {src.path} is {name} {version}, but the {series.name} side "
                    f"needs {want}; {hint}.")  # fmt: skip


def describe(src: dict) -> str:
    """A source as results.json records it, in one line: path, commit or tree, patch."""
    where = f"commit {src['commit']}" if src.get("commit") else f"tree {src['digest'][:12]}"
    notes = [where] + (["uncommitted changes"] if src.get("dirty") else [])
    if src.get("patch"):
        notes.append(f"patch {src['patch']}")
    return f"{src['path']} ({', '.join(notes)})"
