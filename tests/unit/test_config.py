"""Config generation, without starting anything."""

import stat
from pathlib import Path

import pytest

from harness import scenario
from harness.backends.embedded.cloud import Cloud
from harness.backends.embedded.infra import haproxy, keepalived
from harness.services import BY_NAME, ORDER
from harness.services.base import read_ini, uwsgi_ini

ROOT = Path(__file__).resolve().parents[2]


def configured(s: scenario.Scenario, state: Path) -> Cloud:
    """A cloud of `s` with every service's config files written, nothing started."""
    c = Cloud(s, state)
    c.record["venvs"] = {"2026.1": "/opt/venvs/2026.1", "2026.2": "/opt/venvs/2026.2"}
    for node in s.nodes:
        for svc in ORDER:
            if svc.runs_on(node):
                svc.configure(c, node)
    return c


@pytest.fixture
def cloud(tmp_path):
    return configured(scenario.load(ROOT / "scenarios" / "nova-rolling.yaml"), tmp_path)


def test_every_nova_process_has_its_own_host_and_reaches_infra_on_the_controller(cloud):
    for node in cloud.scenario.nodes:
        conf = read_ini(BY_NAME["nova"].conf(cloud, node))
        assert conf["DEFAULT"]["host"] == node.name
        assert conf["DEFAULT"]["my_ip"] == node.address
        assert "@10.250.0.11:5672/" in conf["DEFAULT"]["transport_url"]
        assert conf["DEFAULT"]["compute_driver"] == "fake.FakeDriverWithoutFakeNodes"
        assert conf["DEFAULT"]["state_path"].endswith(f"nodes/{node.name}/nova/state")
        assert conf["keystone_authtoken"]["auth_url"] == "http://10.250.0.10:5000"


def test_the_daemons_stop_contract_is_the_scenarios_and_below_the_harness_bound(cloud):
    services = cloud.scenario.services
    for node in cloud.scenario.nodes:
        conf = read_ini(BY_NAME["nova"].conf(cloud, node))
        assert (
            int(conf["DEFAULT"]["graceful_shutdown_timeout"]) == services.graceful_shutdown_timeout
        )
    assert services.stop_timeout > services.graceful_shutdown_timeout


def test_nova_compute_gets_no_database_credentials(cloud):
    nova = BY_NAME["nova"]
    node = cloud.scenario.node("compute-api")
    assert not read_ini(nova.conf(cloud, node)).has_section("database")
    assert (
        "@10.250.0.11:3306/nova?" in read_ini(nova.db_conf(cloud, node))["database"]["connection"]
    )
    compute = nova.daemon_argv(cloud, node, "nova-compute")
    assert str(nova.db_conf(cloud, node)) not in compute
    conductor = nova.daemon_argv(cloud, cloud.scenario.controller, "nova-conductor")
    assert str(nova.db_conf(cloud, cloud.scenario.controller)) in conductor


def test_processes_per_node_follow_roles(cloud):
    nova = BY_NAME["nova"]
    assert nova.daemons(cloud.scenario.node("controller")) == [
        "nova-conductor",
        "nova-scheduler",
        "nova-compute",
    ]
    assert nova.daemons(cloud.scenario.node("compute-api")) == ["nova-compute"]


def test_passwords_are_per_run_and_files_holding_them_are_private(cloud, tmp_path):
    conf = BY_NAME["keystone"].conf(cloud, "controller")
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    password = read_ini(conf)["database"]["connection"].split(":")[2].split("@")[0]
    assert len(password) >= 20 and password in cloud.secrets.values()
    other = Cloud(cloud.scenario, tmp_path / "other")
    (tmp_path / "other").mkdir()
    assert other.secrets.get("db-keystone") != password


def test_uwsgi_binds_the_node_address_and_closes_connections(cloud):
    node = cloud.scenario.node("compute-api")
    nova = BY_NAME["nova"]
    ini = read_ini(uwsgi_ini(cloud, node, nova.api, "2026.1"))["uwsgi"]
    assert ini["http-socket"] == "10.250.0.12:8774"
    assert ini["add-header"] == "Connection: close"
    assert ini["virtualenv"] == "/opt/venvs/2026.1"
    assert ini["module"] == "nova.wsgi.osapi_compute:application"
    env = nova.api_env(cloud, node)
    assert env["OS_NOVA_CONFIG_FILES"].split(";")[0] == "api-paste.ini"


def test_nova_api_answers_beside_a_request_that_waits_on_a_compute(cloud):
    """A second thread where nova's API runs native threads; a second process where it
    runs eventlet (a second thread crashed it), and never below the scenario's workers."""
    nova, node = BY_NAME["nova"], cloud.scenario.nodes[0]
    cloud.record["venvs"].update({s: f"/opt/venvs/{s}" for s in ("2025.1", "2025.2")})
    for series, threads, processes in (("2026.1", "2", "1"), ("2026.2", "2", "1"),
                                       ("2025.2", "1", "2"), ("2025.1", "1", "2")):  # fmt: skip
        options = nova.uwsgi_options(cloud, node, series)
        ini = read_ini(uwsgi_ini(cloud, node, nova.api, series, options))["uwsgi"]
        assert (ini["threads"], ini["processes"]) == (threads, processes), series
    assert nova.uwsgi_options(cloud, node, "master") == {"threads": 2}  # after every release


def test_cinder_api_is_given_its_nodes_config_and_every_cinder_file_is_per_node(cloud):
    cinder = BY_NAME["cinder"]
    for node in cloud.scenario.nodes:
        conf_path = cinder.conf(cloud, node)
        # cinder's app parses sys.argv for its config: uwsgi's pyargv sets it per node
        ini = read_ini(uwsgi_ini(cloud, node, cinder.api, "2026.1",
                                 cinder.uwsgi_options(cloud, node, "2026.1")))["uwsgi"]  # fmt: skip
        assert ini["pyargv"] == f"--config-file {conf_path}"
        conf = read_ini(conf_path)
        assert (conf["DEFAULT"]["host"], conf["DEFAULT"]["my_ip"]) == (node.name, node.address)
        base = str(cinder.config_dir(cloud, node))
        for option in ("api_paste_config", "resource_query_filters_file", "state_path"):
            assert conf["DEFAULT"][option].startswith(base), option
        assert conf["DEFAULT"]["enabled_backends"] == "fake"
        assert conf["fake"]["volume_driver"] == "cinder.tests.fake_driver.FakeLoggingVolumeDriver"
        assert conf["fake"]["target_helper"] == "fake"
        # nova calls cinder through the VIP's catalog with its own service user
        assert read_ini(BY_NAME["nova"].conf(cloud, node))["cinder"]["username"] == "nova"


def test_haproxy_fronts_every_api_on_every_api_node_and_names_the_server(cloud):
    frontends = [svc.api for svc in ORDER if svc.api]
    cfg = haproxy.render(cloud, "compute-api", frontends)
    assert f"stats socket {haproxy.admin_socket(cloud, 'compute-api')} mode 600 level admin" in cfg
    for fe in frontends:
        assert f"listen {fe.name}\n    bind 10.250.0.10:{fe.port}" in cfg
        for node in cloud.scenario.with_role("api"):
            assert f"server {node.name} {node.address}:{fe.port} check" in cfg
    assert cfg.count(f"http-response set-header {haproxy.SERVER_HEADER} %s") == len(frontends)


def test_keepalived_on_each_balancer_holds_the_vip_by_unicast_vrrp_tracking_its_haproxy(cloud):
    """nova's guide, made to work in namespaces: unicast to the other balancer, every node
    BACKUP without preempting, a health script asking this node's own HAProxy."""
    assert cloud.scenario.vrrp and [n.name for n in cloud.scenario.balancers] == [
        "controller", "compute-api"]  # fmt: skip
    for node, peer, priority in (("controller", "10.250.0.12", 101),
                                 ("compute-api", "10.250.0.11", 100)):  # fmt: skip
        cfg = keepalived.render(cloud, cloud.scenario.node(node))
        assert f"unicast_peer {{\n        {peer}\n    }}" in cfg
        assert f"priority {priority}\n" in cfg and "state BACKUP" in cfg and "nopreempt" in cfg
        assert "10.250.0.10/32 dev eth0" in cfg and "enable_script_security" in cfg
        script = Path(cfg.split('script "')[1].split('"')[0])
        assert stat.S_IMODE(script.stat().st_mode) == 0o755
        assert f"UNIX-CONNECT:{haproxy.admin_socket(cloud, node)}" in script.read_text()
        # leaving MASTER, the node ends the connections it made from the VIP, once the
        # address is gone (docs/findings.md: a VIP failover stranded them)
        notify = Path(cfg.split('notify "')[1].split('"')[0])
        text = notify.read_text()
        assert stat.S_IMODE(notify.stat().st_mode) == 0o755
        assert (
            "exec ss -K -t -n state connected dst 10.250.0.10 src "
            + cloud.scenario.node(node).address
            in text
        )  # entering MASTER: its own connections to the old holder
        assert "ip -o addr show dev eth0 to 10.250.0.10/32 | grep -q . && exit 0" in text
        assert text.rstrip().endswith("ss -K -t -n state connected src 10.250.0.10")


def test_glance_nodes_share_one_image_store(cloud):
    glance = BY_NAME["glance"]
    stores = {
        read_ini(glance.conf(cloud, n))["fs"]["filesystem_store_datadir"]
        for n in cloud.scenario.nodes
    }
    assert len(stores) == 1
