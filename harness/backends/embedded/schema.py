"""The databases' schemas after the roll, and a fresh install's of the target, for the
schema oracle (harness/checks/oracles/schema.py): `mysqldump --no-data` of every
service database, and of the same databases created anew by the target's own sync
commands (services' `schemas`) in scratch databases on the same MariaDB.

A fresh schema depends only on the target's code, so it is kept in the cache by the
target venv's key (schema/<venv>/<database>.sql): the first run of a target pays the
syncs (23 s here), later ones reuse them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import mariadb
from harness.progress import log
from harness.services import ORDER
from harness.services.base import Schema, Service

ROLLED, FRESH = "rolled", "fresh"  # the run folder's schema/<which>/<database>.sql
SCRATCH = "__fresh"  # suffix of the scratch databases a fresh install goes into


def dump_all(cloud: Cloud, series: str, run_dir: Path, cache_dir: Path) -> None:
    """schema/rolled/ (what the roll left) and schema/fresh/ (the target's fresh install)."""
    out = run_dir / "schema"
    for which in (ROLLED, FRESH):
        (out / which).mkdir(parents=True, exist_ok=True)
    cached = cache_dir / "schema" / Path(cloud.record["venvs"][series]).name
    for svc in ORDER:
        for schema in svc.schemas:
            mariadb.dump_schema(cloud, schema.database, out / ROLLED / f"{schema.database}.sql")
        fresh = _fresh(cloud, svc, series, cached)
        for schema in svc.schemas:
            source = fresh[schema.like or schema.database]
            shutil.copyfile(source, out / FRESH / f"{schema.database}.sql")


def _fresh(cloud: Cloud, svc: Service, series: str, cached: Path) -> dict[str, Path]:
    """database → the fresh install's dump, from the cache or made now."""
    own = [s for s in svc.schemas if s.command]
    paths = {s.database: cached / f"{s.database}.sql" for s in own}
    if all(p.is_file() for p in paths.values()):
        return paths
    cached.mkdir(parents=True, exist_ok=True)
    log.info("schema: a fresh %s install on %s (cached for later runs)", svc.project, series)
    env = {s.env: cloud.db_url(svc.project, s.database + SCRATCH) for s in own}
    try:
        for s in own:
            mariadb.create_database(cloud, s.database + SCRATCH, svc.project)
        for s in own:
            _sync(cloud, svc, series, s, env)
        for s in own:  # into the cache only once whole: a failed sync leaves nothing there
            # the scratch name never shows: the dump names tables, not their database
            partial = paths[s.database].with_suffix(".partial")
            mariadb.dump_schema(cloud, s.database + SCRATCH, partial)
            partial.rename(paths[s.database])
    finally:
        mariadb.sql(cloud, "".join(f"DROP DATABASE IF EXISTS `{s.database}{SCRATCH}`;\n"
                                   for s in own))  # fmt: skip
    return paths


def _sync(cloud: Cloud, svc: Service, series: str, schema: Schema, env: dict) -> None:
    tool, *rest = (schema.command or "").split()
    argv = [tool, *svc.config_args(cloud, cloud.scenario.controller), *rest]
    svc.manage(cloud, series, argv, f"{schema.command} (fresh schema)", env=env)
