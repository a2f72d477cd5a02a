"""A release's sdist from the package index, unpacked and cached: a source tree to patch.

The code-level negative controls patch the target release's own code (a small real diff),
which needs its tree; an sdist carries PKG-INFO, so pbr versions it without git. It comes
from the index pip is configured with (pip.conf, PIP_INDEX_URL), else PyPI, through the
simple API's JSON form (PEP 691), and is checked against the index's sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from harness.errors import UserError
from harness.releases import constraints
from harness.releases.sources import canonicalize

log = logging.getLogger(__name__)

PYPI = "https://pypi.org/simple/"
ACCEPT = "application/vnd.pypi.simple.v1+json"


def fetch(project: str, version: str, cache_dir: Path) -> Path:
    """The unpacked sdist of `project` `version` (cached: the same tree every time)."""
    tree = cache_dir / "sdists" / f"{canonicalize(project)}-{version}"
    if (tree / "PKG-INFO").exists():
        return tree
    url, sha256 = _locate(project, version)
    log.info("downloading %s %s's sdist from %s", project, version, url)
    tree.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tree.parent) as tmp:
        archive = Path(tmp) / "sdist.tar.gz"
        with urllib.request.urlopen(url, timeout=120) as r, archive.open("wb") as out:
            shutil.copyfileobj(r, out)
        if hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
            raise UserError(f"{project} {version}'s sdist from {url} does not match its sha256.")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        top = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(top) != 1 or not (top[0] / "PKG-INFO").exists():
            raise UserError(f"{project} {version}'s sdist is not one tree with a PKG-INFO.")
        shutil.rmtree(tree, ignore_errors=True)
        top[0].rename(tree)
    return tree


def patched(project: str, version: str, patch: Path, cache_dir: Path) -> Path:
    """The sdist's tree with `patch` applied (git apply -p1), cached by the patch's hash."""
    try:
        diff = patch.read_bytes()
    except OSError:
        raise UserError(f"Patch {patch} for {project} cannot be read.") from None
    digest = hashlib.sha256(diff).hexdigest()[:12]
    tree = cache_dir / "patched" / f"{canonicalize(project)}-{version}-{digest}"
    if (tree / ".applied").exists():
        return tree
    pristine = fetch(project, version, cache_dir)
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(pristine, tree)
    done = subprocess.run(["git", "apply", "-p1", "--whitespace=nowarn", str(patch.resolve())],
                          cwd=tree, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(tree, ignore_errors=True)
        why = (done.stderr.strip().splitlines() or ["?"])[0]
        raise UserError(f"Patch {patch} does not apply to {project} {version}: {why}")
    (tree / ".applied").write_text(f"{patch}\n")
    return tree


def _locate(project: str, version: str) -> tuple[str, str]:
    index, _ = constraints.pip_indexes()
    base = (index or PYPI).rstrip("/") + "/"
    page = urllib.parse.urljoin(base, canonicalize(project) + "/")
    request = urllib.request.Request(page, headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            listing = json.loads(r.read())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"The package index {base} did not list {project} ({e}).") from None
    wanted = f"{canonicalize(project).replace('-', '_')}-{version}.tar.gz"
    for f in listing.get("files", []):
        if f["filename"].lower() in (wanted, f"{canonicalize(project)}-{version}.tar.gz"):
            return urllib.parse.urljoin(page, f["url"]), f["hashes"]["sha256"]
    raise UserError(f"The package index {base} has no sdist of {project} {version}.")
