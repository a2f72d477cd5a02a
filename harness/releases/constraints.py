"""Upper-constraints files (openstack/requirements' format) and the package index pip uses.

A constraints file pins each library once (`name===version`, optionally `;marker`); a side
of the roll given one resolves its dependencies against it instead of the committed,
date-resolved lock. uv reads no pip.conf, so the index a user configured for pip
(OpenDev's mirror setup writes pip.conf) is handed to uv explicitly.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError

LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(===|==|<=|<|>=|>|~=|!=)\s*\S+")


@dataclass(frozen=True)
class Constraints:
    path: Path
    digest: str
    pins: int  # how many lines pin a package

    def record(self) -> dict:
        return {"path": str(self.path), "digest": self.digest, "pins": self.pins}


def load(path: Path) -> Constraints:
    """The file, checked: readable, and every line a pin (or blank, or a comment)."""
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        reason = type(e).__name__.replace("Error", "").lower()
        raise UserError(f"Constraints file {path} cannot be read ({reason}).") from None
    pins = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not LINE.match(line):
            raise UserError(f"Constraints file {path}, line {number}: {raw.strip()!r} is not "
                            "a pin (name===version).")  # fmt: skip
        pins += 1
    if pins == 0:
        raise UserError(f"Constraints file {path} pins nothing.")
    return Constraints(path.resolve(), hashlib.sha256(text.encode()).hexdigest(), pins)


# -- pip's index, for uv ----------------------------------------------------------------------

UV_INDEX_VARS = ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL")


def pip_config_files(env: dict | None = None) -> list[Path]:
    """pip's configuration files, in the order pip reads them (later ones win)."""
    env = os.environ if env is None else env
    if env.get("PIP_CONFIG_FILE") == os.devnull:
        return []
    home = Path(env.get("HOME", str(Path.home())))
    xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in dirs] + [Path("/etc/pip.conf")]
    files += [home / ".pip" / "pip.conf", xdg / "pip" / "pip.conf"]
    if env.get("VIRTUAL_ENV"):
        files.append(Path(env["VIRTUAL_ENV"]) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def pip_indexes(env: dict | None = None) -> tuple[str | None, list[str]]:
    """(index-url, extra-index-urls) as pip would use them: config files in order, the
    [install] section over [global], then PIP_INDEX_URL / PIP_EXTRA_INDEX_URL."""
    env = os.environ if env is None else env
    index, extra = None, []
    for path in pip_config_files(env):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except configparser.Error:
            continue  # pip would complain; the venv build goes on with what it can read
        for section in ("global", "install"):
            if parser.has_option(section, "index-url"):
                index = parser.get(section, "index-url").strip()
            if parser.has_option(section, "extra-index-url"):
                extra = parser.get(section, "extra-index-url").split()
    index = env.get("PIP_INDEX_URL") or index
    if env.get("PIP_EXTRA_INDEX_URL"):
        extra = env["PIP_EXTRA_INDEX_URL"].split()
    return index, extra


def uv_index_args(env: dict | None = None) -> list[str]:
    """uv's arguments for pip's index; none where uv has an index of its own set."""
    env = os.environ if env is None else env
    if any(env.get(v) for v in UV_INDEX_VARS):
        return []
    index, extra = pip_indexes(env)
    if not index and not extra:
        return []
    args = ["--index-url", index] if index else []
    for url in extra:
        args += ["--extra-index-url", url]
    # pip takes the best version over every index; uv's default stops at the first index
    # that has the package, which a partial mirror (a few wheels) would pin wrongly.
    return [*args, "--index-strategy", "unsafe-best-match"]
