"""Faults done to a live cloud, for the oracles to catch: a port refusing connections, a
process frozen, each for a given time. Used by the end-to-end tests and the benchmarks;
never part of a correct plan.

Timing: each is bracketed by the caller (a Watch step), and `for_seconds` is the time
between switching the fault on and off as measured here, returned to the caller.
"""

from __future__ import annotations

import functools
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import process, wait
from harness.backends import openstack_api
from harness.backends.embedded import operations
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy, mariadb, rabbitmq
from harness.bus import control as bus
from harness.load import ledger
from harness.load.ledger import Operation
from harness.plan.steps import BURST, FORCED, VOLUME_BURST
from harness.progress import log
from harness.services import BY_NAME
from harness.services.nova import smoke

TABLE = "uh_fault"


def _nft(cloud: Cloud, node: str, script: str) -> None:
    argv = process.netns_argv(cloud.netns(cloud.scenario.node(node)), ["nft", "-f", "-"])
    subprocess.run(argv, input=script.encode(), check=True, capture_output=True, timeout=30)


REFUSE = """
table inet {table} {{
  chain input {{
    type filter hook input priority 0; policy accept;
    ip daddr {address} tcp dport {port} reject with tcp reset
  }}
}}
"""


def refuse_port(cloud: Cloud, node: str, port: int, seconds: float) -> float:
    """Every packet to the node's address on `port` answered with a TCP reset for
    `seconds`: new connections are refused, and ones in flight are cut, as when the process
    dies. (The address matters: on the controller the VIP listens on the same port.)"""
    address = cloud.scenario.node(node).address
    _nft(cloud, node, REFUSE.format(table=TABLE, address=address, port=port))
    started = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        _nft(cloud, node, f"delete table inet {TABLE}\n")
    return time.monotonic() - started


def freeze(cloud: Cloud, node: str, name: str, seconds: float) -> float:
    """SIGSTOP a process and its children for `seconds`, then SIGCONT: it accepts nothing
    and answers nothing, but its connections stay open."""
    proc = operations.find(cloud, node, name)
    process.signal_group(proc.pid, signal.SIGSTOP)
    started = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        process.signal_group(proc.pid, signal.SIGCONT)
    return time.monotonic() - started


# -- faults injected into a plan (the selftest catalog: plan/wrong.py, steps.Fault) ----------
#
# Each needs the load running and the bus traced, so it runs as a step of `harness run`.
# What each does is the same wrong procedure the end-to-end tests do by hand
# (tests/e2e/test_oracles_fire.py).


def inject(cloud: Cloud, action: str, node: str | None, service: str | None,
           ledger_path: Path) -> None:  # fmt: skip
    """Do `action` (harness/plan/steps.py: describe_fault says what each is)."""
    if action == "kill-compute-and-delete-queue":
        kill_compute_and_delete_queue(cloud, node)
    elif action == "kill-dhcp-agent-and-delete-queue":
        kill_dhcp_agent_and_delete_queue(cloud, node)
    elif action == "kill-conductor-during-builds":
        kill_conductor_during_builds(cloud, ledger_path)
    elif action == "force-down-live-compute":
        force_down_live_compute(cloud, node)
    elif action == "kill-volume-during-creates":
        kill_volume_during_creates(cloud, ledger_path)
    elif action == "restart-rabbitmq":
        restart_rabbitmq(cloud, ledger_path)
    elif action == "single-api":
        single_api(cloud, service, node)
    elif action == "servers-across-apis":
        servers_across_apis(cloud)
    else:
        raise ValueError(f"unknown fault {action!r}")


def _create(cloud: Cloud, name: str, **kw) -> str:
    conn = openstack_api.admin(cloud)
    image, flavor = smoke.ensure_image_and_flavor(conn)
    server = conn.compute.create_server(name=name, image_id=image, flavor_id=flavor,
                                        networks="none", **kw)  # fmt: skip
    return server.id


def kill_compute_and_delete_queue(cloud: Cloud, node: str) -> None:
    # Forced onto the dead compute, which the scheduler still thinks is up for a while:
    # the build casts wait in its queue, which is then deleted with them in it.
    def builds() -> list[str]:
        return [_create(cloud, f"queued-{i}", availability_zone=f"nova:{node}")
                for i in range(FORCED)]  # fmt: skip

    conn = openstack_api.admin(cloud)
    gone = functools.partial(conn.compute.delete_server, ignore_missing=True)
    _kill_and_delete_queue(cloud, node, "nova", "nova-compute", f"compute.{node}", builds, gone)


def kill_dhcp_agent_and_delete_queue(cloud: Cloud, node: str) -> None:
    # Ports created on the load's network while the agent is dead: neutron-server casts
    # each port_create_end to the agent's queue, which is then deleted with them in it.
    conn = openstack_api.admin(cloud)

    def ports() -> list[str]:
        network = smoke.ensure_load_network(conn)
        return [conn.network.create_port(network_id=network, name=f"queued-{i}").id
                for i in range(FORCED)]  # fmt: skip

    gone = functools.partial(conn.network.delete_port, ignore_missing=True)
    _kill_and_delete_queue(cloud, node, "neutron", "neutron-dhcp-agent", f"dhcp_agent.{node}",
                           ports, gone)  # fmt: skip


def _kill_and_delete_queue(cloud: Cloud, node: str, project: str, process: str, queue: str,
                           make: Callable[[], list[str]],
                           remove: Callable[[str], object]) -> None:  # fmt: skip
    """SIGKILL `process` on `node`, `make` what casts work to its queue, delete the queue
    with those casts in it, start the process again on its release, `remove` what was made."""
    series = cloud.release(node, process)
    operations.kill(cloud, node, process)
    made = make()
    _wait_queue_depth(cloud, queue)
    if rabbitmq.ctl(cloud, "delete_queue", queue) != 0:
        raise RuntimeError(f"rabbitmqctl delete_queue {queue} failed")
    operations.start(cloud, project, node, process, series)
    for thing in made:
        remove(thing)


def _wait_queue_depth(cloud: Cloud, queue: str, timeout: float = 60) -> None:
    broker = cloud.broker()
    wait.until(lambda: {q["name"]: q["messages"] for q in bus.queues(broker)}.get(queue, 0),
               timeout, f"a message waiting in {queue}", interval=0.5)  # fmt: skip


def _burst(cloud: Cloud) -> list[tuple[str, float]]:
    """BURST server builds accepted at once: (server id, time accepted)."""
    return _at_once(lambda i: _create(cloud, f"burst-{i}"), BURST)


def _at_once(create, count: int) -> list[tuple[str, float]]:
    """`create(i)` for i in range(count), side by side: (its id, time accepted) each."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda i: (create(i), time.time()), range(count)))


def _follow(accepted: list[tuple[str, float]], ledger_path, kind: str = "server-create") -> None:
    """Into the load's ledger, so the end-to-end ledger follows them to their end."""
    with open(ledger_path, "a") as out:  # appended whole lines, beside the load worker's
        for resource_id, t in accepted:
            op = Operation("burst", kind, resource_id, None, t, None, "pending")
            out.write(ledger.dump(op) + "\n")


def kill_conductor_during_builds(cloud: Cloud, ledger_path) -> None:
    node = cloud.scenario.controller.name
    series = cloud.release(node, "nova-conductor")
    # The conductor takes every cast off its queue at once (oslo.messaging acks on
    # arrival) and is killed while it works on them: the bus saw them delivered.
    accepted = _burst(cloud)
    operations.kill(cloud, node, "nova-conductor")
    _follow(accepted, ledger_path)
    operations.start(cloud, "nova", node, "nova-conductor", series)


def kill_volume_during_creates(cloud: Cloud, ledger_path) -> None:
    node = cloud.scenario.controller.name
    series = cloud.release(node, "cinder-volume")
    conn = openstack_api.admin(cloud)

    accepted = _at_once(
        lambda i: conn.block_storage.create_volume(name=f"burst-volume-{i}", size=1).id,
        VOLUME_BURST,
    )
    # cinder-volume takes every create cast off its queue at once (acked on arrival) and
    # works on them side by side: once the first is done, the others are in its hands.
    ids = {v for v, _ in accepted}

    def one_done() -> bool:
        return any(v.id in ids and v.status != "creating" for v in conn.block_storage.volumes())

    wait.until(one_done, 60, "a burst volume created", interval=0.1)
    operations.kill(cloud, node, "cinder-volume")
    _follow(accepted, ledger_path, "volume-create")
    operations.start(cloud, "cinder", node, "cinder-volume", series)


def force_down_live_compute(cloud: Cloud, node: str) -> None:
    """Mark `node`'s nova-compute forced down while it runs, restart the conductor, and
    unmark it once the conductor has chosen its compute RPC cap. nova's minimum service
    version leaves forced-down services out, so the conductor pins what the other
    computes accept, above what this live one does.

    The old nova-api cannot unmark it: saving the old compute's record (service version
    70) raises ServiceTooOld against the minimum of the rest (72), which the mistake made
    72 (seen in the case's first run: a 500). So it is unmarked in the database."""
    controller = cloud.scenario.controller.name
    conn = openstack_api.admin(cloud)
    service = next(conn.compute.services(host=node, binary="nova-compute"))
    conn.compute.update_service_forced_down(service, node, "nova-compute", forced=True)
    try:
        conductor_log = cloud.log_path(controller, "nova-conductor")
        seen = conductor_log.stat().st_size
        operations.restart(cloud, "nova", controller, "nova-conductor",
                           cloud.release(controller, "nova-conductor"))  # fmt: skip
        what = "the restarted nova-conductor choosing its compute RPC cap"
        wait.until(lambda: SELECTED in conductor_log.read_bytes()[seen:], 180, what, interval=1)
    finally:
        mariadb.sql(cloud, "UPDATE nova.services SET forced_down = 0 WHERE "
                           f"host = '{node}' AND `binary` = 'nova-compute';\n")  # fmt: skip


SELECTED = b"Automatically selected compute RPC version"


def restart_rabbitmq(cloud: Cloud, ledger_path) -> None:
    """A broker restart as an operator's `systemctl restart` does it (graceful stop, start)
    while builds are in flight. Its queues are not durable (oslo.messaging's default), so
    what they held is gone, and so are the reply queues of calls waiting for an answer.
    (Restarted with nothing in flight under the default load, it lost nothing: 880
    messages traced across it, 17 operations all completed.)"""
    node = cloud.scenario.controller
    _follow(_burst(cloud), ledger_path)
    operations.stop(cloud, node.name, rabbitmq.NAME)
    rabbitmq.start_server(cloud)
    bus.set_tracing(cloud.broker(), True)  # the firehose is a runtime flag: a restart clears it


def single_api(cloud: Cloud, service: str, keep: str) -> None:
    frontend = BY_NAME[service].api.name
    for node in cloud.scenario.nodes:
        if node.name != keep and node.serves(frontend):
            haproxy.set_state(cloud, frontend, node.name, "maint")


def servers_across_apis(cloud: Cloud) -> dict[tuple[str, str], int]:
    """What a client behind the VIP meets in turn, made deterministic: a server created
    through each nova-api backend directly (its RequestSpec written by that release's code),
    then each server shown through every backend at the latest microversion, which reads
    the RequestSpec back (2.96's pinned_availability_zone). The answers are logged, not
    judged here: the oracles judge what the services logged. Returns (created through,
    shown through) → HTTP status. Its own waiting asks at the base microversion, which
    reads no RequestSpec, through the backend that made the server."""
    api = BY_NAME["nova"].api
    bases = {n.name: f"http://{n.address}:{api.port}{api.path}"
             for n in cloud.scenario.nodes if n.serves(api.name)}  # fmt: skip
    conn = openstack_api.admin(cloud)
    image, flavor = smoke.ensure_image_and_flavor(conn)
    latest = {"OpenStack-API-Version": "compute latest"}
    created = {}
    for node, base in bases.items():
        body = {"server": {"name": f"across-{node}", "imageRef": image, "flavorRef": flavor,
                           "networks": "none"}}  # fmt: skip
        answer = conn.session.post(f"{base}/servers", json=body, headers=latest)
        created[node] = answer.json()["server"]["id"]
    try:
        for node, server_id in created.items():
            _server_settles(conn, f"{bases[node]}/servers/{server_id}", "ACTIVE")
        shown = {}
        for maker, server_id in created.items():
            for reader, base in bases.items():
                answer = conn.session.get(f"{base}/servers/{server_id}", headers=latest,
                                          raise_exc=False)  # fmt: skip
                shown[(maker, reader)] = answer.status_code
                log.info("server %s created through %s's nova-api, shown through %s's: %d",
                         server_id, maker, reader, answer.status_code)  # fmt: skip
        return shown
    finally:  # gone before the next step, so no restart after it meets their deletes
        for node, server_id in created.items():
            conn.session.delete(f"{bases[node]}/servers/{server_id}", raise_exc=False)
        for node, server_id in created.items():
            _server_settles(conn, f"{bases[node]}/servers/{server_id}", None)


def _server_settles(conn, url: str, status: str | None, timeout: float = 120) -> None:
    """Until the server at `url` has `status` (None: is gone); ERROR ends the wait."""
    server = url.rsplit("/", 1)[-1]

    def settled() -> bool:
        answer = conn.session.get(url, raise_exc=False)
        if answer.status_code == 404:
            return status is None
        now = answer.json()["server"]["status"] if answer.ok else None
        if now == "ERROR":
            raise RuntimeError(f"server {server} went to ERROR")
        return now == status

    wait.until(settled, timeout, f"server {server} {status or 'deleted'}", interval=1)
