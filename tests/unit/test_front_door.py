"""What a newcomer meets first: the command's version and help, `harness doctor`'s verdict,
a second `run` beside a cloud that is up, the client config of a kept cloud, and the
console log a run keeps."""

from __future__ import annotations

import argparse
import json
import logging
import stat
from types import SimpleNamespace

import pytest
import yaml

from harness import cli, progress
from harness.backends import openstack_api
from harness.backends.embedded import prereqs
from harness.backends.embedded.prereqs import Check
from harness.secrets import Secrets

from .test_registry import ROOT

DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"


def test_version_and_every_positional_argument_has_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("harness ")
    parser = cli._parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        for action in sub._actions:
            if not action.option_strings and action.dest != "help":
                assert action.help, f"harness {name}: {action.dest} has no help"


@pytest.mark.parametrize(("rows", "status"), [
    ([Check("root", True, ""), Check("package haproxy", False, "", True)], 0),
    ([Check("root", True, ""), Check("uv", False, "missing")], 2),
])  # fmt: skip
def test_doctor_fails_only_on_what_the_harness_cannot_install(rows, status, monkeypatch,
                                                              tmp_path, capsys):  # fmt: skip
    monkeypatch.setattr(prereqs, "checks", lambda: rows)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))  # main sets it; restored after
    assert cli.main(["--cache-dir", str(tmp_path), "doctor"]) == status
    out = capsys.readouterr().out
    assert ("later" in out) == (status == 0) and ("MISSING" in out) == (status == 2)


def test_doctor_finds_the_uv_the_harness_runs():
    uv = next(r for r in prereqs.checks() if r.name == "uv")
    assert uv.ok, uv.detail


def test_run_beside_a_cloud_that_is_up_says_harness_down_before_building_anything(
        tmp_path, monkeypatch, capsys):  # fmt: skip
    state = tmp_path / "state"
    state.mkdir()
    (state / "cloud.json").write_text(json.dumps({"scenario": "nova-rolling"}))

    def no_build(*a, **kw):
        raise AssertionError("venvs were built beside a cloud that is up")

    monkeypatch.setattr("harness.backends.embedded.lifecycle.build_venvs", no_build)
    assert cli.main(["--state-dir", str(state), "run", str(DEFAULT)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "run 'harness down' first" in err, err


def test_a_kept_cloud_gets_a_clouds_yaml_only_root_reads(tmp_path):
    secrets = Secrets(tmp_path / "secrets.json")
    cloud = SimpleNamespace(state_dir=tmp_path, secrets=secrets,
                            auth_url="http://10.20.0.100:5000/v3")  # fmt: skip
    line = openstack_api.write_clouds_yaml(cloud)
    path = tmp_path / "clouds.yaml"
    assert line == f"export OS_CLIENT_CONFIG_FILE={path} OS_CLOUD=upgrade-harness"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = yaml.safe_load(path.read_text())["clouds"]["upgrade-harness"]
    assert entry["auth"]["auth_url"] == cloud.auth_url
    assert entry["auth"]["password"] == secrets.get("user-admin")


def test_the_console_transcript_holds_lines_until_the_run_folder_exists(tmp_path):
    progress.setup()
    transcript = progress.transcript()
    try:
        progress.log.info("cloud up; password hunter2")
        progress.log.debug("not on the console, so not in its log")
        path = tmp_path / "console.log"
        assert not path.exists()
        transcript.attach(path, lambda t: t.replace("hunter2", "***"))
        progress.log.info("step 1.1 ok")
    finally:
        transcript.close()
    lines = path.read_text().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["cloud up; password ***", "step 1.1 ok"]
    assert transcript not in logging.getLogger("harness").handlers


@pytest.mark.parametrize(("args", "said"), [
    (["--backend", "devstack"], "The devstack backend needs --nodes"),
    (["--nodes", "nodes.yaml"], "--nodes is for the devstack backend"),
])  # fmt: skip
def test_each_backend_refuses_the_other_ones_options(args, said, tmp_path, capsys):
    assert cli.main(["--state-dir", str(tmp_path), "run", str(DEFAULT), *args]) == 2
    assert said in capsys.readouterr().err
