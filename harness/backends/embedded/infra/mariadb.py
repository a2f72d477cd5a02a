"""MariaDB from Debian, with its own data dir, bound to the controller's address only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from harness import process, wait
from harness.errors import StepFailed

if TYPE_CHECKING:  # the cloud starts and addresses this piece of it
    from harness.backends.embedded.cloud import Cloud

NAME = "mariadb"
PORT = 3306


def _dirs(cloud: Cloud) -> tuple[Path, Path]:
    base = cloud.node_dir(cloud.scenario.controller, NAME)
    return base / "data", base / "run"


def _env() -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def socket_path(cloud: Cloud) -> Path:
    return _dirs(cloud)[1] / "mysqld.sock"


def start(cloud: Cloud) -> process.Proc:
    node = cloud.scenario.controller
    data, run = _dirs(cloud)
    for d in (data, run):
        d.mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "mysql", "mysql")
    log = cloud.log_path(node, NAME)
    if not (data / "mysql").exists():
        init = [
            "mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={data}",
            "--auth-root-authentication-method=socket", "--skip-test-db",
        ]  # fmt: skip
        if process.run(init, None, _env(), log, timeout=120).returncode != 0:
            raise StepFailed(f"mariadb-install-db failed; see {log}")
    argv = [
        "mariadbd", "--no-defaults", "--user=mysql", f"--datadir={data}",
        f"--socket={socket_path(cloud)}", f"--pid-file={run / 'mysqld.pid'}",
        f"--bind-address={node.address}", f"--port={PORT}",
        "--skip-name-resolve", "--max-connections=1000",
        "--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=2",
        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
    ]  # fmt: skip
    proc = process.spawn(NAME, node.name, cloud.netns(node), argv, _env(), log)
    cloud.add_process(proc)
    wait.until(lambda: ping(cloud), 60, "MariaDB answering on its socket")
    return proc


def ping(cloud: Cloud) -> bool:
    argv = ["mariadb-admin", "--no-defaults", f"--socket={socket_path(cloud)}", "ping"]
    log = cloud.log_path(cloud.scenario.controller, NAME)
    return process.run(argv, None, _env(), log, timeout=10).returncode == 0


def sql(cloud: Cloud, statements: str) -> None:
    """Run SQL as root over the socket; statements go on stdin so no password shows in ps."""
    argv = ["mariadb", "--no-defaults", f"--socket={socket_path(cloud)}", "-u", "root"]
    log = cloud.log_path(cloud.scenario.controller, NAME)
    done = process.run(argv, None, _env(), log, timeout=60, stdin=statements)
    if done.returncode != 0:
        raise StepFailed(f"SQL on MariaDB failed; see {log}")


def create_database(cloud: Cloud, database: str, user: str) -> None:
    password = cloud.secrets.get(f"db-{user}")
    sql(
        cloud,
        f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8;\n"
        f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}';\n"
        f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'%';\n",
    )


def dump_schema(cloud: Cloud, database: str, dest: Path) -> None:
    """`mysqldump --no-data` of `database` into `dest`: tables, columns, keys; no data, no
    comments, no dump date (what the schema oracle compares)."""
    argv = ["mysqldump", "--no-defaults", f"--socket={socket_path(cloud)}", "-u", "root",
            "--no-data", "--skip-comments", "--compact", "--skip-dump-date",
            "--skip-add-drop-table", database]  # fmt: skip
    log = cloud.log_path(cloud.scenario.controller, NAME)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out, open(log, "ab") as err:
        done = subprocess.run(argv, stdout=out, stderr=err, env=_env(), timeout=120, check=False)
    if done.returncode != 0:
        raise StepFailed(f"mysqldump of {database} exited {done.returncode}; see {log}")
