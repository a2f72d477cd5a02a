"""Resource survival, Grenade's create / verify / destroy over every resource plugin.

The run calls `create_all` and `verify_all(..., "before")` before the roll,
`verify_all(..., "after")` after it and `destroy_all` at the end, and writes what they
return to `<run_dir>/resources.json` (checks/record.py: RESOURCES), read by the
`resources` oracle (checks/resources.py). That document, exactly:

    {
      "created": {                      # create_all's result; one entry per plugin
        "<plugin>": {
          "state": {...} | null,        # the plugin's ids and fingerprint; null if create failed
          "problems": ["..."],          # empty, or the exception that stopped the create
          "duration": 1.23              # seconds
        }
      },
      "verified": {                     # one verify_all result per moment, by its name
        "before": {"<plugin>": {"problems": ["..."], "duration": 0.4}},
        "after":  {"<plugin>": {"problems": ["..."], "duration": 0.4}}
      },
      "destroyed": {"<plugin>": {"problems": ["..."], "duration": 2.1}}
    }

Plugin names are the modules' NAMEs, the services' projects ("keystone", "glance",
"placement", "neutron", "nova"). Only plugins whose create succeeded are verified and
destroyed. A plugin that raises is recorded as a problem ("ExceptionType: text") and the
others still run: a broken resource must show in the verdict, never crash the run. States
hold no secrets.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.backends import CloudView, openstack_api
from harness.progress import log
from harness.services import ORDER

# Each service's resources (services/<project>/resources.py), in the order they come up:
# keystone's project before the image, the network and the server that need it.
PLUGINS = tuple(s.resources for s in ORDER if s.resources is not None)


def create_all(cloud: CloudView, plugins=PLUGINS) -> dict:
    conn = openstack_api.admin(cloud)
    created = {}
    for plugin in plugins:
        entry = _timed(lambda p=plugin: p.create(conn, cloud))
        created[plugin.NAME] = {"state": entry.pop("result"), **entry}
        _log("create", plugin.NAME, entry)
    return created


def verify_all(cloud: CloudView, created: dict, when: str, plugins=PLUGINS) -> dict:
    conn = openstack_api.admin(cloud)
    verified = {}
    for plugin, state in _made(created, plugins):
        entry = _timed(lambda p=plugin, s=state: p.verify(conn, cloud, s))
        entry["problems"] += entry.pop("result") or []
        verified[plugin.NAME] = entry
        _log(f"verify ({when})", plugin.NAME, entry)
    return verified


def destroy_all(cloud: CloudView, created: dict, plugins=PLUGINS) -> dict:
    conn = openstack_api.admin(cloud)
    destroyed = {}
    # Reverse order: a server goes before the image and flavor it was built from.
    for plugin, state in reversed(_made(created, plugins)):
        entry = _timed(lambda p=plugin, s=state: p.destroy(conn, cloud, s))
        entry.pop("result")
        destroyed[plugin.NAME] = entry
        _log("destroy", plugin.NAME, entry)
    return destroyed


def _made(created: dict, plugins) -> list:
    return [
        (p, created[p.NAME]["state"])
        for p in plugins
        if created.get(p.NAME, {}).get("state") is not None
    ]


def _timed(call: Callable) -> dict:
    """{"result", "problems", "duration"}: an exception becomes the one problem."""
    started = time.monotonic()
    try:
        result, problems = call(), []
    except Exception as e:
        result, problems = None, [f"{type(e).__name__}: {e}"]
    duration = round(time.monotonic() - started, 3)
    return {"result": result, "problems": problems, "duration": duration}


def _log(action: str, name: str, entry: dict) -> None:
    outcome = "; ".join(entry["problems"]) or "ok"
    log.info("resources: %s %s in %.1f s: %s", action, name, entry["duration"], outcome)
