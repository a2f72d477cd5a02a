"""Per-release virtualenvs built with uv, cached between runs.

A side of the roll (harness/releases/sides.py) is a series from the catalog, optionally
with source trees in place of some of its projects and an upper-constraints file. Its
venv's directory name carries a digest of the lock file, the Python version, each
source's identity and the constraints, so a changed lock or an edited checkout builds a new
venv and an unchanged one is reused. A venv counts as built only once its manifest (the
`.complete` marker: each project's installed version, the sources) exists; a half-built
one (an interrupted build) is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import parse_wheel_filename

from harness.errors import UserError
from harness.releases import constraints as constraints_mod
from harness.releases.catalog import PROJECTS, Series, is_catalogued, uv_binary
from harness.releases.sides import Side
from harness.releases.sources import Source, canonicalize, check_series

log = logging.getLogger(__name__)

MARKER = ".complete"
INSTALLED = (
    "import importlib.metadata as m, json, sys\n"
    "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
)


def _side(side: Side | Series) -> Side:
    return side if isinstance(side, Side) else Side(side)


def venv_path(side: Side | Series, cache_dir: Path) -> Path:
    side = _side(side)
    lock = side.series.lock_file
    # A series the catalog does not list has no lock: its requirements stand for it.
    pinned = lock.read_bytes() if lock.exists() else "\n".join(side.series.requirements()).encode()
    digest = hashlib.sha256(pinned)
    digest.update(sys.version.encode())
    # Only a side with sources or constraints adds to the key: release venvs keep theirs.
    for src in side.sources:
        digest.update(f"\0source {src.project} {src.digest} {src.version}".encode())
    if side.constraints:
        digest.update(f"\0constraints {side.constraints.digest}".encode())
    return cache_dir / "venvs" / f"{side.name}-{digest.hexdigest()[:12]}"


def is_built(path: Path) -> bool:
    return (path / MARKER).exists()


def manifest(path: Path) -> dict:
    """What a built venv holds: series, each project's version, sources, constraints."""
    text = (path / MARKER).read_text()
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        found = None
    # A venv built before manifests holds the series' name alone ("2026.1", a JSON number).
    return found if isinstance(found, dict) else {"series": text.strip()}


def ensure(side: Side | Series, cache_dir: Path) -> tuple[Path, bool]:
    """Return (venv path, built now?)."""
    side = _side(side)
    path = venv_path(side, cache_dir)
    if is_built(path):
        return path, False
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    what = f"{len(side.sources)} source(s)" if side.sources else side.series.lock_file.name
    log.info("building the %s venv at %s (uv, from %s)", side.name, path, what)
    try:
        _run(side, [uv_binary(), "venv", "--quiet", "--python", sys.executable, str(path)])
        env = dict(os.environ, VIRTUAL_ENV=str(path))
        if side.sources or side.constraints:
            _install_with_sources(side, path, env)
        else:
            install = ["pip", "install", "--quiet", "--no-deps", "-r", str(side.series.lock_file)]
            _run(side, [uv_binary(), *install, *constraints_mod.uv_index_args()], env=env)
        record = _manifest_of(side, path)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # no half-built venv is left in the cache
        raise
    (path / MARKER).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path, True


def _install_with_sources(side: Side, path: Path, env: dict) -> None:
    """Each source built into a wheel on its own (pbr's PBR_VERSION, when given, must reach
    that build only), then one resolution: the sources' wheels with every other project and
    library from the lock — or, with constraints, the series' projects under them."""
    sourced = {src.project for src in side.sources}
    with tempfile.TemporaryDirectory(prefix="uh-wheels-") as tmp:
        wheels = [_build_wheel(side, src, Path(tmp)) for src in side.sources]
        reqs = path / "harness-requirements.txt"
        reqs.write_text("\n".join(requirements(side, sourced)) + "\n")
        cmd = [uv_binary(), "pip", "install", "--quiet", "-r", str(reqs)]
        if side.constraints:
            cmd += ["--constraint", str(side.constraints.path)]
        _run(side, [*cmd, *map(str, wheels), *constraints_mod.uv_index_args()], env=env)


def requirements(side: Side, sourced: set[str]) -> list[str]:
    if side.constraints:  # the series' other projects; their libraries from the constraints
        return [r for r in side.series.requirements() if _name(r) not in sourced]
    lines = side.series.lock_file.read_text().splitlines()
    return [line for line in lines if line.strip() and _name(line) not in sourced]


def _name(requirement: str) -> str:
    for sep in ("=", "<", ">", "~", "!", ";", "[", " "):
        requirement = requirement.split(sep, 1)[0]
    return canonicalize(requirement.strip())


def _build_wheel(side: Side, src: Source, out: Path) -> Path:
    before = set(out.glob("*.whl"))
    env = trusting_any_owner(os.environ)
    if src.version:
        env["PBR_VERSION"] = src.version
    cmd = [uv_binary(), "build", "--quiet", "--wheel", "--out-dir", str(out), str(src.path)]
    _run(side, [*cmd, *constraints_mod.uv_index_args()], env=env)
    built = sorted(set(out.glob("*.whl")) - before)
    if len(built) != 1:
        raise UserError(f"Building {src.path} gave {len(built)} wheels, not one.")
    _, version, _, _ = parse_wheel_filename(built[0].name)
    check_series(src, str(version), side.series, is_catalogued(side.series.name))
    return built[0]


def trusting_any_owner(environ) -> dict:
    """`environ` plus git config that lets every git call of a build read a checkout owned
    by another user. In Zuul the job runs as root on the zuul user's checkouts, and git
    (>= 2.35.2) refuses such a repository ("detected dubious ownership") unless safe.directory
    allows it; SUDO_UID, which git would also accept, does not survive tox. pbr runs git
    inside uv's isolated build, beyond our reach with `git -c`, so the setting goes through
    the environment (GIT_CONFIG_COUNT/KEY/VALUE, as `-c` would give it): the user's global
    config is left alone, and config the environment already passes is kept."""
    env = dict(environ)
    try:
        count = max(0, int(env.get("GIT_CONFIG_COUNT") or 0))
    except ValueError:  # git would refuse it anyway; ours replaces it
        count = 0
    env[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
    env[f"GIT_CONFIG_VALUE_{count}"] = "*"
    env["GIT_CONFIG_COUNT"] = str(count + 1)
    return env


def _manifest_of(side: Side, path: Path) -> dict:
    done = subprocess.run([str(path / "bin" / "python"), "-c", INSTALLED, *PROJECTS],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise UserError(f"The {side.name} venv at {path} lacks a project: "
                        f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")  # fmt: skip
    return {"series": side.name, "projects": json.loads(done.stdout), **side.record()}


def _run(side: Side, cmd: list[str], env: dict | None = None) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        log.error("%s failed (exit %d):\n%s", " ".join(cmd[:3]), done.returncode,
                  "\n".join(lines[-15:]))  # fmt: skip
        raise UserError(
            f"Could not build the {side.name} venv: uv {' '.join(cmd[1:3])} "
            f"failed ({_reason(lines)}); behind a proxy, uv needs HTTPS_PROXY and the proxy's "
            "CA in SSL_CERT_FILE, and a private index in pip.conf or UV_INDEX_URL."
        )


def _reason(lines: list[str]) -> str:
    """uv's innermost cause ("invalid peer certificate: UnknownIssuer"), else its last line."""
    causes = [line.strip() for line in lines if line.strip().startswith(("cause:", "error:"))]
    return (causes or [lines[-1].strip()])[-1].removeprefix("cause: ").removeprefix("error: ")
