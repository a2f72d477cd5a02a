"""Locust users for the cloud behind the VIP. Imported only by the load worker process.

- VersionClient: nova's version documents (`/` and `/v2.1/`), over kept-alive and new
  connections; each answer's max microversion goes into the ledger.
- Reader: token issue, server list and detail, flavors, images, neutron's networks and
  ports, cinder's volumes, placement's resource providers and a provider's allocations.
- Writer: create a server ("networks": "none"), wait for ACTIVE, delete it, wait until it
  is gone; each operation goes into the ledger with its outcome. Every other server gets
  a volume first: created through cinder, attached and detached through nova (nova-api
  and nova-compute calling cinder), deleted through cinder, each step waited for and
  recorded the same way. And now and then a network with a port in it, both deleted
  again (neutron's writes are synchronous).

Every request is tagged with the API process it was sent to (`api`, from the services'
registry), so no oracle maps ports or names to APIs by hand.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable

from locust import HttpUser, between, task

from harness.load.ledger import (
    ERROR_BEFORE_DELETE,
    Held,
    Operation,
    Request,
    dump,
    ends,
    port_state,
    server_state,
)

# oslo.middleware's request_id takes a client's `req-<uuid>` here as the global request id
GLOBAL_ID_HEADER = "X-OpenStack-Request-ID"
SETTINGS: dict = {}  # filled by the worker before the users start
LEDGER = None  # an open file, set by the worker
# Set by the worker when asked to stop: a writer stops waiting for its server and leaves
# the operation pending for the harness to settle (locust's own state says "cleanup").
STOPPING = False


def record(rec) -> None:
    LEDGER.write(dump(rec) + "\n")


class CloudUser(HttpUser):
    abstract = True
    wait_time = between(0.2, 0.6)

    def on_start(self) -> None:
        self.name_ = f"{type(self).__name__}-{id(self) % 100000}"

    def url(self, project: str, path: str) -> str:
        # The project's endpoint behind the VIP: a port of the VIP on the embedded cloud, a
        # path under Apache (or the plugin's HAProxy port) on devstack.
        return SETTINGS["endpoints"][project] + path

    def call(self, method: str, project: str, path: str, name: str, expected=(200,),
             headers=None, body=None, fresh=False, version_doc=False):  # fmt: skip
        """One request, timed and written to the ledger whatever happens."""
        headers = dict(headers or {})
        # Our own id for the request, which the services take as its global request id and
        # pass on in every RPC message's context: a request that got no answer (so no
        # X-OpenStack-Request-Id back) is still joined to the messages it caused.
        global_id = headers[GLOBAL_ID_HEADER] = f"req-{uuid.uuid4()}"
        if fresh:
            headers["Connection"] = "close"
        sent = time.time()
        status = error = resp = None
        try:
            resp = self.client.request(method, self.url(project, path), name=name, headers=headers,
                                       json=body, timeout=SETTINGS["timeout"],
                                       catch_response=True)  # fmt: skip
            with resp:
                status = resp.status_code or None  # locust answers 0 when nothing answered
                if status is None:
                    error = f"{type(resp.error).__name__}: {resp.error}"[:300]
                    resp.failure(error)
                elif status in expected:
                    resp.success()
                else:
                    resp.failure(f"unexpected {status}")
        except Exception as e:  # connection refused, reset, timeout: no answer at all
            error = f"{type(e).__name__}: {e}"[:300]
        received = time.time()
        rec = Request(
            client=self.name_, sent=sent, received=received, method=method, name=name,
            status=status, expected=tuple(expected), error=error,
            backend=resp.headers.get("X-Backend-Server") if resp is not None else None,
            request_id=_request_id(resp), global_request_id=global_id,
            fresh_connection=fresh, api=SETTINGS["apis"][project],
            max_version=_max_version(resp, path) if version_doc and status == 200 else None,
        )  # fmt: skip
        record(rec)
        return resp if status is not None else None


def _request_id(resp) -> str | None:
    if resp is None:
        return None
    for header in ("X-OpenStack-Request-Id", "X-Compute-Request-Id", "X-Openstack-Request-Id"):
        if header in resp.headers:
            return resp.headers[header]
    return None


def _json(resp) -> dict:
    try:
        doc = resp.json() if resp is not None and resp.status_code == 200 else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _max_version(resp, path: str) -> str | None:
    try:
        doc = resp.json()
    except ValueError:
        return None
    if "version" in doc:  # /v2.1/
        return doc["version"].get("version") or None
    current = [v for v in doc.get("versions", []) if v.get("id") == "v2.1"]
    return current[0].get("version") if current else None


class VersionClient(CloudUser):
    weight = 3

    @task
    def root_kept_alive(self):
        self.call("GET", "nova", "/", "nova GET /", version_doc=True)

    @task
    def v21_kept_alive(self):
        self.call("GET", "nova", "/v2.1/", "nova GET /v2.1/", version_doc=True)

    @task
    def root_fresh(self):
        self.call("GET", "nova", "/", "nova GET / (new connection)", fresh=True, version_doc=True)


class AuthedUser(CloudUser):
    abstract = True

    def on_start(self) -> None:
        super().on_start()
        self.token = None
        self.project_id = None
        self.issue_token()

    def issue_token(self) -> None:
        user = {"name": SETTINGS["username"], "domain": {"name": "Default"},
                "password": SETTINGS["password"]}  # fmt: skip
        project = {"name": SETTINGS["project"], "domain": {"name": "Default"}}
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                         "scope": {"project": project}}}  # fmt: skip
        resp = self.call("POST", "keystone", "/v3/auth/tokens", "keystone POST /v3/auth/tokens",
                         expected=(201,), body=body)  # fmt: skip
        if resp is not None and resp.status_code == 201:
            self.token = resp.headers["X-Subject-Token"]
            self.project_id = resp.json()["token"]["project"]["id"]

    def headers(self, microversion: str | None = None) -> dict:
        h = {"X-Auth-Token": self.token or ""}
        if microversion:
            h["OpenStack-API-Version"] = f"compute {microversion}"
        return h


class Reader(AuthedUser):
    weight = 2

    @task(3)
    def servers_detail(self):
        self.call("GET", "nova", "/v2.1/servers/detail", "nova GET /v2.1/servers/detail",
                  headers=self.headers(SETTINGS["microversion"]))  # fmt: skip

    @task(2)
    def servers(self):
        self.call("GET", "nova", "/v2.1/servers", "nova GET /v2.1/servers", headers=self.headers())

    @task(2)
    def flavors(self):
        self.call("GET", "nova", "/v2.1/flavors", "nova GET /v2.1/flavors", headers=self.headers())

    @task(2)
    def images(self):
        self.call("GET", "glance", "/v2/images", "glance GET /v2/images", headers=self.headers())

    @task(1)
    def token(self):
        self.issue_token()

    @task(1)
    def networks(self):
        self.call("GET", "neutron", "/v2.0/networks", "neutron GET /v2.0/networks",
                  headers=self.headers())  # fmt: skip

    @task(1)
    def ports(self):
        self.call("GET", "neutron", "/v2.0/ports", "neutron GET /v2.0/ports",
                  headers=self.headers())  # fmt: skip

    @task(1)
    def volumes(self):
        self.call("GET", "cinder", f"/v3/{self.project_id}/volumes",
                  "cinder GET /v3/{project}/volumes", headers=self.headers())  # fmt: skip

    @task(1)
    def volumes_detail(self):
        self.call("GET", "cinder", f"/v3/{self.project_id}/volumes/detail",
                  "cinder GET /v3/{project}/volumes/detail", headers=self.headers())  # fmt: skip

    @task(1)
    def resource_providers(self):
        resp = self.call("GET", "placement", "/resource_providers",
                         "placement GET /resource_providers", headers=self.headers())  # fmt: skip
        providers = _json(resp).get("resource_providers") or []
        if providers:  # the computes' providers: what the scheduler allocates against
            uuid = providers[int(time.time()) % len(providers)]["uuid"]
            self.call("GET", "placement", f"/resource_providers/{uuid}/allocations",
                      "placement GET /resource_providers/{uuid}/allocations",
                      headers=self.headers())  # fmt: skip


class Writer(AuthedUser):
    weight = 1
    wait_time = between(1, 2)

    def on_start(self) -> None:
        super().on_start()
        self.with_volume = False
        self.created: Operation | None = None  # the last server create it recorded

    @task(1)
    def network_lifecycle(self):
        """A network and a port in it, then both deleted: neutron's DB writes across the
        roll (its expand and contract)."""
        h = self.headers()
        body = {"network": {"name": f"load-{self.name_}-{int(time.time())}"}}
        resp = self.call("POST", "neutron", "/v2.0/networks", "neutron POST /v2.0/networks",
                         expected=(201,), headers=h, body=body)  # fmt: skip
        if resp is None or resp.status_code != 201:
            return
        network = resp.json()["network"]["id"]
        port = {"port": {"network_id": network}}
        resp = self.call("POST", "neutron", "/v2.0/ports", "neutron POST /v2.0/ports",
                         expected=(201,), headers=h, body=port)  # fmt: skip
        if resp is not None and resp.status_code == 201:
            self.call("DELETE", "neutron", f"/v2.0/ports/{resp.json()['port']['id']}",
                      "neutron DELETE /v2.0/ports/{id}", expected=(204,), headers=h)  # fmt: skip
        self.call("DELETE", "neutron", f"/v2.0/networks/{network}",
                  "neutron DELETE /v2.0/networks/{id}", expected=(204,), headers=h)  # fmt: skip

    @task(3)
    def server_lifecycle(self):
        h = self.headers("2.37")
        # on the load's network where neutron has agents: a port bound by ML2, served by
        # the DHCP agent (a build whose port cannot be bound ends in ERROR)
        networks = [{"uuid": SETTINGS["network"]}] if SETTINGS.get("network") else "none"
        server = {"name": f"load-{self.name_}-{int(time.time())}", "networks": networks,
                  "imageRef": SETTINGS["image"], "flavorRef": SETTINGS["flavor"]}  # fmt: skip
        body = {"server": server}
        resp = self.call("POST", "nova", "/v2.1/servers", "nova POST /v2.1/servers",
                         expected=(202,), headers=h, body=body)  # fmt: skip
        if resp is None or resp.status_code != 202:
            return
        server_id = resp.json()["server"]["id"]
        final = self.operation("server-create", server_id, resp)
        if final == "pending":  # the load is stopping: the harness settles it (load/settle.py)
            return
        if final == "ACTIVE" and SETTINGS.get("network") and not self.port_up(server_id, resp):
            return  # as with an attach below: its server is left to the settling
        self.with_volume = not self.with_volume
        if final == "ACTIVE" and self.with_volume and not self.volume_lifecycle(server_id):
            # an attach or detach left pending as the load stops: deleting the server now
            # would end it as "available" and count it lost (a CI run did); settle follows it
            return
        resp = self.call("DELETE", "nova", f"/v2.1/servers/{server_id}",
                         "nova DELETE /v2.1/servers/{id}", expected=(204,), headers=h)  # fmt: skip
        if resp is not None and resp.status_code == 204:
            self.operation("server-delete", server_id, resp)

    def port_up(self, server_id: str, created) -> bool:
        """The server's port on the load's network reaches ACTIVE: bound to the compute's
        host by ML2, wired by that node's L2 agent and given its entry by the DHCP agent
        (neutron holds a port DOWN until both have reported, its provisioning blocks) —
        each over RPC between the server and an agent. An operation under the create's
        request id (nova carries it to neutron). False if the load stopped first."""
        resp = self.call("GET", "neutron", f"/v2.0/ports?device_id={server_id}",
                         "neutron GET /v2.0/ports?device_id={id}",
                         headers=self.headers())  # fmt: skip
        ports = _json(resp).get("ports") or []
        if not ports:  # a server ACTIVE with no port: nova's own failure, judged elsewhere
            return True
        return self.operation("port-up", ports[0]["id"], created) != "pending"

    def volume_lifecycle(self, server_id: str) -> bool:
        """A volume created, attached to the server, detached and deleted; each step is an
        operation, and the next is tried only once the last one completed. False if the
        load stopped while one was pending."""
        volumes = f"/v3/{self.project_id}/volumes"
        body = {"volume": {"size": 1, "name": f"load-{self.name_}-{int(time.time())}"}}
        resp = self.call("POST", "cinder", volumes, "cinder POST /v3/{project}/volumes",
                         expected=(202,), headers=self.headers(), body=body)  # fmt: skip
        if resp is None or resp.status_code != 202:
            return True
        volume_id = resp.json()["volume"]["id"]
        final = self.operation("volume-create", volume_id, resp)
        if final != "available":
            return final != "pending"
        attachments = f"/v2.1/servers/{server_id}/os-volume_attachments"
        body = {"volumeAttachment": {"volumeId": volume_id}}
        resp = self.call("POST", "nova", attachments,
                         "nova POST /v2.1/servers/{id}/os-volume_attachments", expected=(200,),
                         headers=self.headers(), body=body)  # fmt: skip
        if resp is not None and resp.status_code == 200:
            final = self.operation("volume-attach", volume_id, resp)
            if final != "in-use":
                return final != "pending"
            resp = self.call("DELETE", "nova", f"{attachments}/{volume_id}",
                             "nova DELETE /v2.1/servers/{id}/os-volume_attachments/{volume}",
                             expected=(202,), headers=self.headers())  # fmt: skip
            if resp is None or resp.status_code != 202:
                return True
            final = self.operation("volume-detach", volume_id, resp)
            if final != "available":
                return final != "pending"
        resp = self.call("DELETE", "cinder", f"{volumes}/{volume_id}",
                         "cinder DELETE /v3/{project}/volumes/{id}", expected=(202,),
                         headers=self.headers())  # fmt: skip
        if resp is not None and resp.status_code == 202:
            self.operation("volume-delete", volume_id, resp)
        return True

    def operation(self, kind: str, resource_id: str, resp) -> str:
        """Wait for the operation the API accepted with `resp` to reach one of its final
        states (ledger.FINALS; "pending" if the load stops or its time runs out first), and
        record its outcome."""
        accepted = time.time()
        status_of = {"server": self.server_status, "volume": self.volume_status,
                     "port": self.port_status}[kind.split("-")[0]]  # fmt: skip
        deadline = accepted + SETTINGS["operation_timeout"]
        final, first, held = "pending", None, Held(accepted)
        while time.time() < deadline and not STOPPING:
            status = status_of(resource_id)
            first = first or status
            if ends(kind, status, held.seen(status, time.time())):
                final = status
                break
            time.sleep(1)
        op = Operation(self.name_, kind, resource_id, _request_id(resp), accepted,
                       time.time() if final != "pending" else None, final)  # fmt: skip
        record(op)
        if kind == "server-create":
            self.created = op
        elif kind == "server-delete" and first == ERROR_BEFORE_DELETE:
            self.amend_create(resource_id)
        return final

    def amend_create(self, server_id: str) -> None:
        """The server was in ERROR when its delete began: its build went to ERROR after the
        load saw it ACTIVE (seen: the compute's last cast of the build failed). The create's
        last word in the ledger says so; the delete is judged on its own."""
        op = self.created
        if op is not None and op.resource_id == server_id:
            extra = {**op.extra, "seen": "ERROR when deleted"}
            record(dataclasses.replace(op, final="ERROR", extra=extra))

    def server_status(self, server_id: str) -> str | None:
        def state(body: dict) -> str | None:
            server = body["server"]
            return server_state(server["status"], server.get("OS-EXT-STS:task_state"))

        path, name = f"/v2.1/servers/{server_id}", "nova GET /v2.1/servers/{id}"
        return self.status_of("nova", path, name, state, self.headers("2.37"))

    def port_status(self, port_id: str) -> str | None:
        def state(body: dict) -> str | None:
            return port_state(body["port"]["status"], body["port"].get("binding:vif_type"))

        return self.status_of("neutron", f"/v2.0/ports/{port_id}", "neutron GET /v2.0/ports/{id}",
                              state)  # fmt: skip

    def volume_status(self, volume_id: str) -> str | None:
        return self.status_of("cinder", f"/v3/{self.project_id}/volumes/{volume_id}",
                              "cinder GET /v3/{project}/volumes/{id}",
                              lambda body: body["volume"]["status"])  # fmt: skip

    def status_of(self, api: str, path: str, name: str, state: Callable[[dict], str | None],
                  headers=None) -> str | None:  # fmt: skip
        """GET one resource: `state` of its body, "DELETED" when it is gone (404), None when
        the call itself failed (the request is recorded either way)."""
        resp = self.call("GET", api, path, name, expected=(200, 404),
                         headers=headers or self.headers())  # fmt: skip
        if resp is None:
            return None
        return "DELETED" if resp.status_code == 404 else state(resp.json())
