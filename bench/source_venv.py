#!/usr/bin/env python3
"""Benchmark: the time to build the target side's venv with nova from a source tree (the
code catalog's harmless patch on nova's sdist), cold, warm and after an edit.

Cold: an empty harness cache and an empty uv cache (the sdist, every wheel, the nova
wheel's build). Warm: the same tree again (the venv is reused: its key is unchanged).
Edited: one file of the tree changed (a new key: the nova wheel is built again, the other
wheels come from uv's cache). Figures are printed, never asserted.

    python bench/source_venv.py [--series 2026.2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.releases import catalog, sdists, sources, venv  # noqa: E402
from harness.releases.sides import Side  # noqa: E402

PATCH = Path(__file__).resolve().parents[1] / "scenarios/code/patches/c0-harmless-log-line.diff"


def timed(what: str, fn):
    started = time.monotonic()
    result = fn()
    print(f"{what:8} {time.monotonic() - started:7.1f} s", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", default="2026.2")
    args = p.parse_args()
    series = catalog.get(args.series)
    with tempfile.TemporaryDirectory(prefix="uh-bench-") as tmp:
        cache = Path(tmp) / "cache"
        os.environ["UV_CACHE_DIR"] = str(Path(tmp) / "uv")

        def side() -> Side:
            tree = sdists.patched("nova", series.versions["nova"], PATCH, cache)
            return Side(series, (sources.inspect("nova", tree, patch=PATCH),))

        path, built = timed("cold", lambda: venv.ensure(side(), cache))
        assert built
        _, built = timed("warm", lambda: venv.ensure(side(), cache))
        print(f"         (reused: {not built})")
        tree = sdists.patched("nova", series.versions["nova"], PATCH, cache)
        with (tree / "nova" / "version.py").open("a") as f:
            f.write("# edited\n")
        edited, built = timed("edited", lambda: venv.ensure(side(), cache))
        print(f"         (new venv: {edited != path and built})")


if __name__ == "__main__":
    main()
