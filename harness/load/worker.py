"""The load worker: `python -m harness.load.worker CONFIG.json`. Runs locust in this
process only (it monkey-patches with gevent), writes the ledger, and stops by itself when
the stop file appears, on SIGTERM, or after `max_seconds` — whichever comes first."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path


def main(config_path: str) -> int:
    import gevent
    from locust import between, stats
    from locust.env import Environment

    from harness.load import users

    config = json.loads(Path(config_path).read_text())
    users.SETTINGS.update(config)
    users.LEDGER = open(config["ledger"], "a", buffering=1)  # noqa: SIM115 (open for the run)
    classes = [getattr(users, name) for name in config["users"]]
    users.CloudUser.wait_time = between(*config["think_time"])  # readers and version clients
    # Users finish the task in hand on stop, so an operation in flight gets its outcome.
    env = Environment(
        user_classes=classes,
        host=f"http://{config['vip']}",  # locust wants a base; every call uses a full URL
        stop_timeout=config["operation_timeout"] + 10,
    )
    runner = env.create_local_runner()
    # locust's own CSVs beside the ledger (load/locust_stats.csv, _stats_history, _failures,
    # _exceptions), for people used to reading them; the oracles read the ledger.
    csv = stats.StatsCSVFileWriter(env, stats.PERCENTILES_TO_REPORT,
                                   str(Path(config["ledger"]).parent / "locust"))  # fmt: skip
    writer = gevent.spawn(csv.stats_writer)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    runner.start(config["user_count"], spawn_rate=config["spawn_rate"])
    deadline = time.time() + config["max_seconds"]
    stop_file = Path(config["stop_file"])
    parent = os.getppid()
    # The VIP is only ours while the cloud's bridge exists: without it, requests to the VIP
    # would follow the default route off this machine. So the load also stops by itself if
    # the bridge goes away or the harness that started it dies. (A devstack VIP is the
    # gate's, on its own network: no bridge to watch.)
    bridge = Path("/sys/class/net") / config["bridge"] if config["bridge"] else None
    while (
        not stopping
        and not stop_file.exists()
        and time.time() < deadline
        and os.getppid() == parent
        and (bridge is None or bridge.exists())
    ):
        gevent.sleep(0.2)
    users.STOPPING = True
    runner.stop()  # returns once users finished the task in hand (or stop_timeout passed)
    runner.quit()
    # One more pass of locust's CSV writer (it rewrites the files every interval), so the
    # CSVs hold the last requests too; closing them below flushes that pass.
    gevent.sleep(stats.CSV_STATS_INTERVAL_SEC + 0.2)
    writer.kill()
    csv.close_files()  # a final flush of every file
    users.LEDGER.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
