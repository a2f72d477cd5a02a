"""Known findings: an oracle's failure becomes an expected failure only when every piece of
its evidence matches a known finding; other evidence keeps it failed; unused ones are stale."""

import functools
from pathlib import Path

from harness import scenario
from harness.checks import findings
from harness.checks.findings import KnownFinding
from harness.checks.verdict import FAIL, PASS, XFAIL, Verdict, worst

OLD_API_500 = KnownFinding(
    "failed_requests", "old nova-api cannot load objects a newer one wrote (bug 123)",
    (("backend_release", "2026\\.1"), ("request", "GET nova GET /v2.1/servers.*"),
     ("status", "500")),
)  # fmt: skip


SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@functools.cache
def known_in(name: str) -> tuple[KnownFinding, ...]:
    """A scenario's known findings, loaded once for all the tests that judge by them."""
    return scenario.load(SCENARIOS / name).known_findings


def outcome(oracle: str, *evidence: dict, scenario_file: str = "nova-rolling.yaml") -> str:
    """What a failure of `oracle` on `evidence` becomes against a scenario's known findings."""
    v = Verdict(oracle, FAIL, f"{len(evidence)} failed", {}, list(evidence))
    return findings.apply([v], known_in(scenario_file))[0][0].status


def failure(status=500, release="2026.1", request="GET nova GET /v2.1/servers/detail"):
    return {"request": request, "status": status, "backend_release": release, "step": "6.10"}


def failed(*evidence) -> Verdict:
    return Verdict("failed_requests", FAIL, f"{len(evidence)} failed", {}, list(evidence))


def test_a_failure_matching_a_known_finding_in_every_piece_is_expected():
    verdicts, stale = findings.apply([failed(failure(), failure())], (OLD_API_500,))
    assert verdicts[0].status == XFAIL and "bug 123" in verdicts[0].summary
    assert stale == [] and worst(verdicts) == PASS


def test_one_piece_of_evidence_outside_the_signature_keeps_the_failure():
    other = failure(status=503)
    verdicts, _ = findings.apply([failed(failure(), other)], (OLD_API_500,))
    assert verdicts[0].status == FAIL and worst(verdicts) == FAIL
    # its summary names what is beyond the findings, not the oracle's first (a known one)
    assert verdicts[0].summary.startswith(
        "1 of 2 beyond the known findings, first: GET nova GET /v2.1/servers/detail, 503, 6.10;"
    )


def test_a_known_finding_only_speaks_for_its_own_oracle_and_is_stale_when_unused():
    other_oracle = Verdict("rpc_bus", FAIL, "lost", {}, [failure()])
    verdicts, stale = findings.apply([other_oracle], (OLD_API_500,))
    assert verdicts[0].status == FAIL
    assert stale == [OLD_API_500.describe()]


def test_a_passing_oracle_leaves_its_known_finding_stale():
    verdicts, stale = findings.apply([Verdict("failed_requests", PASS, "ok")], (OLD_API_500,))
    assert verdicts[0].status == PASS and len(stale) == 1


def test_nested_evidence_is_matched_by_dotted_names():
    pair = {"earlier": {"backend": "controller"}, "later": {"backend_release": "2026.1"}}
    k = KnownFinding("monotonic_version", "r", (("later.backend_release", "2026\\.1"),))
    assert k.matches(pair)
    assert not k.matches({"later": {"backend_release": "2026.2"}})
    assert not k.matches({"earlier": {}})  # a missing field never matches


def test_the_default_scenarios_conductor_finding_waives_work_lost_in_the_conductors_hands():
    """The waiver follows the lost message, not the step the operation was accepted in: a
    delete accepted during a nova-api restart whose compute's call the stopping conductor
    took and never answered is the finding (seen in CI); the same delete whose message was
    lost on another queue, or with no message to show, is a failure."""
    stop = "6.18 nova-conductor on controller: graceful stop (SIGTERM, bounded wait, SIGKILL)"
    api = "6.16 nova-api on compute-api: graceful stop"

    def lost(queue, in_hand):
        message = {"role": "call", "method": "object_class_action_versions", "queue": queue,
                   "delivered_step": in_hand[0] if in_hand else None, "in_hand": in_hand,
                   "answered": False}  # fmt: skip
        return {"operation": "server-delete", "final": "pending", "accepted_during": api,
                "steps": [api, stop], "lost_message": message if queue else None}  # fmt: skip

    def verdict(*evidence):
        return outcome("rpc_end_to_end", *evidence)

    assert verdict(lost("conductor", [stop, "6.19 nova-scheduler on controller: graceful stop"])) \
        == XFAIL  # fmt: skip
    assert verdict(lost("compute.controller", [stop])) == FAIL  # another consumer's loss
    assert verdict(lost("conductor", [api])) == FAIL  # no conductor stop while in its hands
    assert verdict(lost(None, [])) == FAIL  # nothing on the bus ties it to the conductor


def test_each_finding_that_occurred_says_how_much_it_waived_and_of_what():
    lost = KnownFinding("rpc_bus", "the conductor's lost call", (("queue", "conductor"),))
    verdicts = [failed(failure(), failure(), failure(status=503)),
                Verdict("rpc_bus", FAIL, "lost", {}, [{"queue": "conductor"}]),
                Verdict("rpc_end_to_end", PASS, "ok")]  # fmt: skip
    units = {"failed_requests": "requests", "rpc_bus": "messages"}
    rows = findings.waived(verdicts, (OLD_API_500, lost), units)
    assert rows == [
        {"reason": OLD_API_500.reason, "waived": {"failed_requests": 2},
         "units": {"failed_requests": "requests"}},
        {"reason": lost.reason, "waived": {"rpc_bus": 1}, "units": {"rpc_bus": "messages"}},
    ]  # fmt: skip
    assert findings.waived([Verdict("failed_requests", PASS, "ok")], (OLD_API_500,), units) == []


def test_the_default_scenarios_fanout_finding_waives_the_build_its_compute_logged_only():
    """A create its compute set to ERROR after the scheduler's fanout exchange was gone is
    the fanout finding by its request's first error record, whatever step it began in; a
    create that stayed pending, or whose log says something else, is a failure."""
    fanout = ("Failed to publish message to topic 'scheduler_fanout': Basic.publish: (404) "
              "NOT_FOUND - no exchange 'scheduler_fanout' in vhost '/'")  # fmt: skip

    def lost(final, message):
        return {"operation": "server-create", "final": final, "lost_message": None,
                "logged": {"process": "nova-compute", "node": "controller", "t": 1.0,
                           "message": message}}  # fmt: skip

    def verdict(*evidence):
        return outcome("rpc_end_to_end", *evidence)

    assert verdict(lost("ERROR", fanout)) == XFAIL
    assert verdict(lost("pending", fanout)) == FAIL
    assert verdict(lost("ERROR", "Build of instance aborted: boom")) == FAIL


def test_the_neutron_fanout_finding_waives_a_servers_push_only_while_an_ovs_agent_stops():
    """The records a roll with neutron's agents showed (docs/neutron-agents-research.md,
    section 9): a server's push to a versioned-object fanout gone with the last old agent,
    waived during an OVS agent's restart and nowhere else."""
    push = ("Failed to publish message to topic 'neutron-vo-Port-1.10_fanout': Basic.publish: "
            "(404) NOT_FOUND - no exchange 'neutron-vo-Port-1.10_fanout' in vhost '/'")  # fmt: skip
    agent = "5.10 neutron-openvswitch-agent on compute-api: graceful stop (SIGTERM, ...)"

    def verdict(process, step, message=push):
        record = {"process": process, "release": "2026.2", "step": step, "message": message}
        return outcome("service_logs", record, scenario_file="neutron-agents.yaml")

    assert verdict("neutron-rpc-server", agent) == XFAIL
    assert verdict("neutron-api", agent) == XFAIL
    assert verdict("neutron-api", "5.4 neutron-api on controller: graceful stop (...)") == FAIL
    assert verdict("neutron-api", agent, "NetworkNotFound: Network x could not be found.") == FAIL
    closed = ("[cb03817c-0baa-4e1a-9158-0b4f9f478821] AMQP server on 10.251.0.11:5672 is "
              "unreachable: connection already closed. Trying again in 1 seconds.: amqp."
              "exceptions.RecoverableConnectionError: connection already closed")  # fmt: skip

    def reopened(same_request):
        record = {"process": "neutron-api", "release": "2026.2", "step": agent,
                  "message": closed, "same_request": same_request}  # fmt: skip
        return outcome("service_logs", record, scenario_file="neutron-agents.yaml")

    # the connection the broker closed with the push's 404, in the same request, reopened
    assert reopened("neutron-api: NotFound; neutron-api: RecoverableConnectionError") == XFAIL
    assert reopened("neutron-api: RecoverableConnectionError") == FAIL  # no 404 before it


def test_the_neutron_rpc_server_finding_waives_an_agents_call_it_took_while_stopping_only():
    """The third roll with neutron's agents: the stopping 2026.1 RPC server on compute-api
    took an OVS agent's get_network_details and never answered; the agent logged its
    timeout a minute later, and the DHCP agent, resyncing while it stopped, its traceback.
    Waived for those calls in an RPC server's stop and those records of 2026.1 agents;
    the same call lost in a neutron-api's restart, or another method, is a failure."""
    server = "5.3 neutron-rpc-server on compute-api: graceful stop (SIGTERM, ...)"

    def lost(method, in_hand, queue="q-plugin"):
        record = {"role": "call", "queue": queue, "method": method,
                  "why": "delivered, never answered", "in_hand": f"{in_hand}, 5.4 …"}  # fmt: skip
        return outcome("rpc_bus", record, scenario_file="neutron-agents.yaml")

    assert lost("get_network_details", server) == XFAIL
    assert lost("get_network_info", server) == XFAIL
    assert lost("report_state", server, "q-reports-plugin") == XFAIL
    assert lost("get_network_details", "5.5 neutron-api on controller: graceful stop") == FAIL
    assert lost("update_device_list", server) == FAIL

    def logged(process, release, step, message):
        record = {"process": process, "release": release, "step": step, "message": message}
        return outcome("service_logs", record, scenario_file="neutron-agents.yaml")

    timeout = (
        "Timeout in RPC method get_network_details. Waiting for 10 seconds before next "
        "attempt. If the server is not down, consider increasing the rpc_response_timeout"
    )
    own_stop = "5.10 neutron-dhcp-agent on controller: graceful stop (SIGTERM, ...)"
    resync = ("Unable to sync network state.: AttributeError: 'NoneType' object has no "
              "attribute '_condition'")  # fmt: skip
    agent = "neutron-openvswitch-agent"
    assert logged(agent, "2026.1", "5.9 neutron-openvswitch-agent on controller: …", timeout) \
        == XFAIL  # fmt: skip
    assert logged(agent, "2026.2", "5.9 neutron-openvswitch-agent on controller: …", timeout) \
        == FAIL  # fmt: skip
    gave_up = ("Error during notification for neutron.plugins.ml2.drivers.openvswitch.agent."
               "ovs_neutron_agent.CacheBackedPluginApi._legacy_notifier-466021 Network, "
               "after_update: oslo_messaging.exceptions.MessagingTimeout: Timed out waiting "
               "for a reply to message ID 0e9ed839e83049498350ccaf77f3c4c5")  # fmt: skip
    its_stop = "5.9 neutron-openvswitch-agent on controller: graceful stop (SIGTERM, ...)"
    assert logged(agent, "2026.1", its_stop, gave_up) == XFAIL  # the fifth roll's
    assert logged(agent, "2026.1", its_stop, gave_up.replace("MessagingTimeout", "KeyError")) \
        == FAIL  # fmt: skip
    assert logged(agent, "2026.2", its_stop, gave_up) == FAIL
    assert logged("neutron-dhcp-agent", "2026.1", own_stop, resync) == XFAIL
    assert logged("neutron-dhcp-agent", "2026.1", server, resync) == FAIL  # not its own stop


def test_the_ovsdb_clear_finding_waives_a_vanished_tap_only():
    """The agent's aborted other_config clear of a tap the VIF unplug removed (any release,
    any step); another aborted OVSDB transaction of the agent stays a failure."""

    def logged(message, release="2026.1"):
        step = "3.4 glance-api on controller: graceful stop"
        record = {"process": "neutron-openvswitch-agent", "release": release, "step": step,
                  "message": message}  # fmt: skip
        return outcome("service_logs", record, scenario_file="neutron-agents.yaml")

    clear = ("txn n=1 command(idx=0): DbClearCommand(_result=None, table=Interface, "
             "record=tapc21a07bc-65, column=other_config) aborted due to error: Cannot find "
             "Interface with name=tapc21a07bc-65: ovsdbapp.backend.ovs_idl.idlutils.RowNotFound: "
             "Cannot find Interface with name=tapc21a07bc-65")  # fmt: skip
    assert logged(clear) == XFAIL
    assert logged(clear.replace("aborted due to error:", "aborted:"), "2026.2") == XFAIL
    assert logged(clear.replace("table=Interface", "table=Port")) == FAIL
    assert logged(clear.replace("column=other_config", "column=external_ids")) == FAIL


def test_the_dhcp_port_race_finding_waives_a_subnet_deleted_under_the_dhcp_agent_only():
    """tempest deleted its subnet half a second after making it, as the DHCP agent set up
    its port (code case c7's roll, session 23's e2e roll): the agent's record, the server's
    answer to that request and the server's binding attempts under it are waived; the same
    error answered by neutron-api (a client's request), a binding failure with no vanished
    subnet in its request, or another error are not."""
    race = ("Unable to complete operation on subnet 403354b0-044b-4320-a20a-08616f9cc7ca: "
            "This subnet is being modified by another concurrent operation.")  # fmt: skip
    server = f"Exception during message handling: neutron_lib.exceptions.SubnetInUse: {race}"
    agent = ("Unable to enable dhcp for 4acd29ac-3ec3-44a6-b3c6-26833530dd55.: oslo_messaging."
             f"rpc.client.RemoteError: Remote error: SubnetInUse {race}")  # fmt: skip
    asked = "neutron-dhcp-agent: SubnetInUse; neutron-rpc-server: SubnetInUse"
    bind = ("Failed to bind port 7973ed04-2d11-476f-970d-0f6938ea4c42 on host controller for "
            "vnic_type normal using segments []")  # fmt: skip
    gone = ("Mechanism driver openvswitch failed in bind_port: neutron_lib.exceptions."
            "SubnetNotFound: Subnet 893e53f8 could not be found.")  # fmt: skip
    step = "6.5 cinder-backup on controller: graceful stop"

    def logged(process, message, same_request=""):
        record = {"process": process, "release": "2026.2", "message": message, "step": step,
                  "same_request": same_request}  # fmt: skip
        return outcome("service_logs", record)

    assert logged("neutron-dhcp-agent", agent, asked) == XFAIL
    assert logged("neutron-rpc-server", server, asked) == XFAIL
    assert logged("neutron-rpc-server", server, "neutron-rpc-server: SubnetInUse") == FAIL
    assert logged("neutron-api", server, asked) == FAIL
    other = agent.replace("SubnetInUse", "IpAddressGenerationFailure")
    assert logged("neutron-dhcp-agent", other) == FAIL
    subnet_gone = "neutron-rpc-server: SubnetNotFound"
    assert logged("neutron-rpc-server", gone, subnet_gone) == XFAIL
    assert logged("neutron-rpc-server", bind, subnet_gone) == XFAIL
    assert logged("neutron-rpc-server", bind, "") == FAIL  # no vanished subnet: a failure
    assert logged("neutron-rpc-server", bind, "neutron-rpc-server: AgentNotFound") == FAIL
    # the binding's request may also meet the vo fanout's 404 (NotFound) as it pushes
    both = "neutron-rpc-server: NotFound; neutron-rpc-server: SubnetNotFound"
    assert logged("neutron-rpc-server", bind, both) == XFAIL
