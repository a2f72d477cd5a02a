from pathlib import Path

import pytest
import yaml

from harness import cli, scenario
from harness.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"


def write(tmp_path, data) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def base() -> dict:
    return yaml.safe_load(DEFAULT.read_text())


def test_default_scenario_is_valid():
    s = scenario.load(DEFAULT)
    assert (s.release_from, s.release_to) == ("2026.1", "2026.2")
    assert [n.name for n in s.nodes] == ["controller", "compute-api"]
    assert s.controller.name == "controller"
    assert [n.name for n in s.with_role("api")] == ["controller", "compute-api"]


def mutate(change):
    data = base()
    change(data)
    return data


BAD = {
    "unknown top-level key": (mutate(lambda d: d.update(colour="blue")), "unknown key 'colour'"),
    "unknown nested key": (
        mutate(lambda d: d["nodes"][0].update(cpu=4)),
        "unknown key 'cpu' in nodes.0",
    ),
    "missing release": (mutate(lambda d: d["releases"].pop("to")), "'to' is a required property"),
    "unknown release": (
        mutate(lambda d: d["releases"].update({"from": "2023.1"})),
        "Unknown release '2023.1'",
    ),
    "downgrade": (
        mutate(lambda d: d["releases"].update({"from": "2026.2", "to": "2026.1"})),
        "must be newer",
    ),
    "address clash": (
        mutate(lambda d: d["nodes"][1].update(address="10.250.0.11")),
        "node compute-api and node controller both use address 10.250.0.11",
    ),
    "vip clash": (
        mutate(lambda d: d["network"].update(vip="10.250.0.12")),
        "both use address 10.250.0.12",
    ),
    "address outside the network": (
        mutate(lambda d: d["nodes"][0].update(address="10.9.9.9")),
        "not a host of 10.250.0.0/24",
    ),
    "not an address": (
        mutate(lambda d: d["nodes"][0].update(address="controller.local")),
        "is not an IPv4 address",
    ),
    "bad type": (mutate(lambda d: d["services"].update(api_workers="two")), "'two' is not of type"),
    "bad role": (mutate(lambda d: d["nodes"][1].update(roles=["dns"])), "'dns' is not one of"),
    "two controllers": (
        mutate(lambda d: d["nodes"][1]["roles"].append("controller")),
        "exactly one node must have the 'controller' role, found 2",
    ),
    "duplicate node": (
        mutate(lambda d: d["nodes"][1].update(name="controller", address="10.250.0.13")),
        "node name 'controller' is used twice",
    ),
    "known finding of no oracle": (
        mutate(
            lambda d: d.update(
                known_findings=[{"oracle": "vibes", "match": {"a": "b"}, "reason": "r"}]
            )
        ),
        "'vibes' is not one of",
    ),  # fmt: skip
    "known finding with a bad pattern": (
        mutate(
            lambda d: d.update(
                known_findings=[{"oracle": "hosts", "match": {"a": "(x"}, "reason": "r"}]
            )
        ),
        "known finding 1, match 'a': '(x' is not a regular expression",
    ),  # fmt: skip
    "unknown user class": (
        mutate(lambda d: d.update(load={"user_classes": ["Hacker"]})),
        "'Hacker' is not one of",
    ),
    "think time upside down": (
        mutate(lambda d: d.update(load={"think_time": [2, 1]})),
        "load.think_time",
    ),
    "harness kills before the services' own bound": (
        mutate(lambda d: d["services"].update(graceful_shutdown_timeout=30, stop_timeout=30)),
        "must exceed services.graceful_shutdown_timeout",
    ),
    "not yaml": ("name: [unclosed\n", "is not valid YAML"),
    "not a mapping": ("- a\n- b\n", "is not of type 'object'"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_scenario_is_one_clear_sentence(tmp_path, case):
    data, message = BAD[case]
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")) as e:
        scenario.load(write(tmp_path, data))
    assert "\n" not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        scenario.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("command", ["up", "run"])
@pytest.mark.parametrize(
    "content,message",
    [(mutate(lambda d: d.update(colour="blue")), "unknown key 'colour'"),
     ("name: [unclosed\n", "is not valid YAML at line 2")],
)  # fmt: skip
def test_cli_exits_2_with_one_line_on_a_bad_scenario(tmp_path, capsys, command, content, message):
    path = write(tmp_path, content)
    state = tmp_path / "state"
    assert cli.main(["--state-dir", str(state), command, str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
    assert not state.exists()  # nothing half-started


def test_not_root_is_exit_2_with_one_sentence_and_nothing_started(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    state = tmp_path / "state"
    assert cli.main(["--state-dir", str(state), "up", str(DEFAULT)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "harness: The embedded cloud needs root (network namespaces); run as root."
    assert not state.exists()


def test_no_namespace_support_is_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        "harness.backends.embedded.prereqs.netns_works", lambda: (False, "Operation not permitted")
    )
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert cli.main(["--state-dir", str(tmp_path / "s"), "up", str(DEFAULT)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "harness: Network namespaces do not work here: Operation not permitted."
