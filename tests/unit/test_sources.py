"""Source trees, constraints and pip's index: what a side of the roll is built from, its
identity (the venv's cache key), and every bad input as one sentence (exit status 2)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness import cli, scenario
from harness.errors import UserError
from harness.releases import catalog, constraints, sdists, sources, venv
from harness.releases.sides import Side

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "scenarios" / "nova-rolling.yaml"
SETUP_CFG = "[metadata]\nname = {name}\n"


def tree(path: Path, name: str = "nova", pkg_info: bool = False) -> Path:
    (path / name.replace("-", "_")).mkdir(parents=True)
    (path / "setup.cfg").write_text(SETUP_CFG.format(name=name))
    (path / name.replace("-", "_") / "manager.py").write_text("x = 1\n")
    if pkg_info:
        (path / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 34.0.0\n")
    return path


def git(path: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "PATH": "/usr/bin:/bin", "HOME": str(path)}  # fmt: skip
    return subprocess.run(["git", "-C", str(path), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def committed(path: Path) -> Path:
    """A nova tree at `path`, as a git checkout of one commit."""
    path = tree(path)
    git(path, "init", "-q")
    git(path, "add", ".")
    git(path, "commit", "-qm", "first")
    return path


@pytest.fixture
def checkout(tmp_path) -> Path:
    return committed(tmp_path / "nova")


# -- specs and validation -------------------------------------------------------------------


def test_a_spec_names_a_project_a_path_and_maybe_a_version(tmp_path):
    assert sources.parse_spec("nova=src/nova", tmp_path) == ("nova", tmp_path / "src/nova", None)
    assert sources.parse_spec("placement=/p@16.0.1", tmp_path) == (
        "openstack-placement", Path("/p"), "16.0.1")  # fmt: skip
    # an @ that is not followed by a version is part of the path
    assert sources.parse_spec("nova=/a@b/nova", tmp_path)[1:] == (Path("/a@b/nova"), None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [("nova", "A source is PROJECT=PATH"), ("=x", "A source is PROJECT=PATH"),
     ("swift=/x", "Unknown project 'swift'")],
)  # fmt: skip
def test_a_malformed_spec_is_one_sentence(tmp_path, spec, message):
    with pytest.raises(UserError, match=message):
        sources.parse_spec(spec, tmp_path)


def test_a_source_must_exist_be_python_and_be_that_project(tmp_path):
    with pytest.raises(UserError, match="does not exist or is not a directory"):
        sources.inspect("nova", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="is not a Python project"):
        sources.inspect("nova", tmp_path / "empty")
    with pytest.raises(UserError, match="is glance, not nova"):
        sources.inspect("nova", tree(tmp_path / "glance", "glance", pkg_info=True))


def test_a_tree_without_git_or_pkg_info_needs_its_version(tmp_path):
    bare = tree(tmp_path / "nova")
    with pytest.raises(UserError, match=r"give the version \(nova=PATH@X.Y.Z\)"):
        sources.inspect("nova", bare)
    assert sources.inspect("nova", bare, "34.1.0").version == "34.1.0"


# -- identity --------------------------------------------------------------------------------


def test_a_checkout_is_its_commit_plus_what_is_not_committed(checkout):
    clean = sources.inspect("nova", checkout)
    assert clean.commit == git(checkout, "rev-parse", "HEAD") and not clean.dirty
    assert sources.inspect("nova", checkout).digest == clean.digest  # unchanged: same key
    (checkout / "nova" / "manager.py").write_text("x = 2\n")
    edited = sources.inspect("nova", checkout)
    assert edited.dirty and edited.digest != clean.digest
    (checkout / "nova" / "new.py").write_text("y = 1\n")
    untracked = sources.inspect("nova", checkout)
    assert untracked.digest not in (clean.digest, edited.digest)
    (checkout / "nova" / "new.py").write_text("y = 2\n")  # an untracked file's content counts
    assert sources.inspect("nova", checkout).digest != untracked.digest
    git(checkout, "checkout", "-q", ".")
    (checkout / "nova" / "new.py").unlink()
    assert sources.inspect("nova", checkout).digest == clean.digest


def test_an_untracked_symlink_counts_by_its_target_even_a_broken_one(checkout):
    clean = sources.inspect("nova", checkout)
    (checkout / "link").symlink_to("absent")  # read as a file, it crashed the digest
    broken = sources.inspect("nova", checkout)
    assert broken.dirty and broken.digest != clean.digest
    (checkout / "link").unlink()
    (checkout / "link").symlink_to("nova")
    assert sources.inspect("nova", checkout).digest not in (clean.digest, broken.digest)


def test_a_nested_checkout_counts_by_its_own_commit_and_changes(checkout):
    # git lists an untracked checkout inside the tree as one entry, "sub/": a directory
    clean = sources.inspect("nova", checkout)
    sub = committed(checkout / "sub")
    first = sources.inspect("nova", checkout)
    assert first.dirty and first.digest != clean.digest
    (sub / "nova" / "manager.py").write_text("x = 3\n")  # a change inside it counts
    assert sources.inspect("nova", checkout).digest not in (clean.digest, first.digest)


def test_an_untracked_file_whose_name_git_would_quote_counts_by_its_content(checkout):
    # `git status --porcelain` C-quotes such names ("a b \"c\".txt", "\303\251.txt"): read
    # as names, they were files that do not exist
    clean = sources.inspect("nova", checkout)
    (checkout / 'a b "c".txt').write_text("1\n")
    (checkout / "é.txt").write_text("1\n")
    first = sources.inspect("nova", checkout)
    assert first.dirty and first.digest != clean.digest
    (checkout / 'a b "c".txt').write_text("2\n")
    second = sources.inspect("nova", checkout)
    assert second.digest not in (clean.digest, first.digest)
    (checkout / "é.txt").write_text("2\n")
    assert sources.inspect("nova", checkout).digest not in (clean.digest, first.digest,
                                                             second.digest)  # fmt: skip
    git(checkout, "add", ".")  # staged: the diff holds them, under their own names
    git(checkout, "mv", "nova/manager.py", "nova/gestión.py")  # a rename lists two names
    staged = sources.inspect("nova", checkout)
    assert staged.dirty and staged.digest != clean.digest


def test_a_tree_inside_another_checkout_is_not_that_checkout(checkout):
    inner = tree(checkout / "vendored" / "glance", "glance", pkg_info=True)
    src = sources.inspect("glance", inner)
    assert src.commit is None and not src.dirty


def test_a_plain_tree_is_the_hash_of_its_files_but_not_of_build_output(tmp_path):
    path = tree(tmp_path / "nova", pkg_info=True)
    first = sources.inspect("nova", path).digest
    (path / "build").mkdir()
    (path / "build" / "lib.py").write_text("built\n")
    (path / "nova" / "__pycache__").mkdir()
    (path / "nova" / "__pycache__" / "manager.cpython-311.pyc").write_bytes(b"\0")
    assert sources.inspect("nova", path).digest == first
    (path / "nova" / "manager.py").write_text("x = 3\n")
    assert sources.inspect("nova", path).digest != first


def test_the_venv_key_follows_the_sources_and_leaves_release_venvs_alone(checkout, tmp_path):
    series = catalog.get("2026.2")
    plain = venv.venv_path(series, tmp_path)
    assert venv.venv_path(Side(series), tmp_path) == plain  # the release venvs keep their key
    with_src = venv.venv_path(Side(series, (sources.inspect("nova", checkout),)), tmp_path)
    assert with_src != plain and with_src.name.startswith("2026.2-")
    assert venv.venv_path(Side(series, (sources.inspect("nova", checkout),)), tmp_path) == with_src
    (checkout / "nova" / "manager.py").write_text("x = 2\n")
    edited = venv.venv_path(Side(series, (sources.inspect("nova", checkout),)), tmp_path)
    assert edited not in (plain, with_src)


def test_a_source_s_build_trusts_a_checkout_of_another_user_through_its_environment():
    # pbr's git calls in uv's build see safe.directory=* (tests/install builds one for real)
    env = venv.trusting_any_owner({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "GIT_CONFIG_COUNT": "1",
                   "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}  # fmt: skip
    given = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.proxy",
             "GIT_CONFIG_VALUE_0": "http://proxy.example.invalid:3128"}  # fmt: skip
    env = venv.trusting_any_owner(given)  # what the environment passes is kept
    assert env == {**given, "GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_1": "safe.directory",
                   "GIT_CONFIG_VALUE_1": "*"}  # fmt: skip
    assert given["GIT_CONFIG_COUNT"] == "1"  # and not changed in place


def test_a_source_replaces_its_project_in_the_lock_and_nothing_else():
    series = catalog.get("2026.2")
    lines = venv.requirements(Side(series), {"nova", "openstack-placement"})
    names = {venv._name(line) for line in lines}
    assert "nova" not in names and "openstack-placement" not in names
    assert {"keystone", "glance", "neutron", "python-novaclient", "uwsgi"} <= names
    locked = [ln for ln in series.lock_file.read_text().splitlines() if ln.strip()]
    assert len(lines) == len(locked) - 2


# -- constraints and pip's index ----------------------------------------------------------------


def test_an_upper_constraints_file_is_read_and_identified(tmp_path):
    path = tmp_path / "upper-constraints.txt"
    path.write_text("# pins\noslo.config===10.0.0\nPyMySQL===1.1.1;python_version>='3.10'\n\n"
                    "requests[socks]===2.32.3\n")  # fmt: skip
    loaded = constraints.load(path)
    assert loaded.pins == 3 and loaded.path == path.resolve() and len(loaded.digest) == 64


@pytest.mark.parametrize(
    ("text", "message"),
    [("oslo.config===1\nnot a pin\n", "line 2: 'not a pin' is not a pin"),
     ("# nothing\n\n", "pins nothing")],
)  # fmt: skip
def test_a_bad_constraints_file_is_one_sentence(tmp_path, text, message):
    path = tmp_path / "uc.txt"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        constraints.load(path)
    with pytest.raises(UserError, match=r"cannot be read \(filenotfound\)"):
        constraints.load(tmp_path / "absent.txt")


def test_pip_s_index_reaches_uv_as_pip_would_use_it(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://mirror.example.invalid/pypi/simple\n"
        "extra-index-url = https://wheels.example.invalid/a https://wheels.example.invalid/b\n"
    )
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    args = constraints.uv_index_args(env)
    assert args[:2] == ["--index-url", "https://mirror.example.invalid/pypi/simple"]
    assert args.count("--extra-index-url") == 2
    assert args[-2:] == ["--index-strategy", "unsafe-best-match"]  # pip's "best version"
    env["PIP_INDEX_URL"] = "https://other.example.invalid/simple"
    assert constraints.uv_index_args(env)[1] == "https://other.example.invalid/simple"
    env["UV_INDEX_URL"] = "https://uv.example.invalid/simple"  # uv's own setting wins
    assert constraints.uv_index_args(env) == []
    quiet = {"HOME": str(home), "PIP_CONFIG_FILE": "/dev/null"}  # pip reads no config at all
    assert constraints.pip_config_files(quiet) == [] and constraints.uv_index_args(quiet) == []


# -- scenarios and the command line -----------------------------------------------------------


def test_the_command_line_s_sources_go_to_the_target_side(checkout, tmp_path):
    overrides = scenario.Overrides((f"nova={checkout}",), None)
    data, s = scenario.read(DEFAULT, overrides)
    assert s.side_from.sources == () and s.release_to == "2026.2"
    (src,) = s.side_to.sources
    assert (src.project, src.path, src.commit) == ("nova", checkout, git(checkout, "rev-parse",
                                                                          "HEAD"))  # fmt: skip
    assert data["releases"]["to"] == {
        "series": "2026.2",
        "sources": {"nova": {"path": str(checkout)}},
    }
    assert s.side_to.replay_args() == [f"--source nova={checkout}"]


def test_a_scenario_states_sources_relative_to_itself_and_may_extend_another(checkout, tmp_path):
    case = tmp_path / "case.yaml"
    rel = Path("..") / checkout.relative_to(tmp_path.parent)
    case.write_text(f"extends: {DEFAULT}\nname: case\nreleases:\n  to:\n    series: '2026.2'\n"
                    f"    sources:\n      nova: {rel}\n")  # fmt: skip
    s = scenario.load(case)
    assert s.name == "case" and s.side_to.sources[0].path == checkout
    assert s.known_findings == scenario.load(DEFAULT).known_findings  # from what it extends
    assert s.nodes == scenario.load(DEFAULT).nodes


def test_extends_in_a_loop_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(UserError, match="in a loop"):
        scenario.load(tmp_path / "a.yaml")


def test_a_source_for_a_project_not_rolled_is_refused(checkout, tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text(f"extends: {DEFAULT}\nplan:\n  projects: [keystone]\n")
    with pytest.raises(UserError, match="a source is given for nova, which the scenario does not "
                                        "roll"):  # fmt: skip
        scenario.load(case, scenario.Overrides((f"nova={checkout}",)))


def test_a_source_with_both_path_and_patch_is_refused_by_the_schema(tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text(f"extends: {DEFAULT}\nreleases:\n  to:\n    series: '2026.2'\n"
                    "    sources:\n      nova: {path: /x, patch: /y}\n")  # fmt: skip
    with pytest.raises(UserError, match="releases.to"):
        scenario.load(case)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--source", "nova=/no/such/tree"], "does not exist"),
     (["--source", "swift=/tmp"], "Unknown project 'swift'"),
     (["--constraints", "/no/such/uc.txt"], "cannot be read")],
)  # fmt: skip
def test_bad_source_input_exits_2_with_one_sentence_and_starts_nothing(argv, message, capsys,
                                                                       tmp_path):  # fmt: skip
    state = tmp_path / "state"
    assert cli.main(["--state-dir", str(state), "run", str(DEFAULT), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not state.exists()


def test_the_plan_names_each_source(checkout, capsys):
    assert cli.main(["plan", str(DEFAULT), "--seed", "1", "--source", f"nova={checkout}"]) == 0
    header = capsys.readouterr().out.splitlines()[:4]
    assert any(line.startswith(f"to 2026.2: nova from {checkout} (commit ") for line in header)


# -- patched sdists ------------------------------------------------------------------------------


def test_a_patch_applies_to_the_cached_sdist_and_a_bad_one_is_refused(tmp_path):
    pristine = tree(tmp_path / "cache" / "sdists" / "nova-34.0.0", pkg_info=True)
    good = tmp_path / "good.diff"
    good.write_text("--- a/nova/manager.py\n+++ b/nova/manager.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    patched = sdists.patched("nova", "34.0.0", good, tmp_path / "cache")
    assert (patched / "nova" / "manager.py").read_text() == "x = 2\n"
    assert (pristine / "nova" / "manager.py").read_text() == "x = 1\n"  # the sdist untouched
    src = sources.inspect("nova", patched, patch=good)
    assert src.record()["patch"] == str(good) and src.commit is None
    bad = tmp_path / "bad.diff"
    bad.write_text("--- a/nova/manager.py\n+++ b/nova/manager.py\n@@ -1 +1 @@\n-x = 9\n+x = 2\n")
    with pytest.raises(UserError, match="does not apply to nova 34.0.0"):
        sdists.patched("nova", "34.0.0", bad, tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "patched").iterdir())) == 1  # nothing half-made left


def test_patched_trees_go_to_the_cache_dir_the_command_line_names(tmp_path, monkeypatch, capsys):
    for where in ("default", "given"):
        tree(tmp_path / where / "sdists" / "nova-34.0.0", pkg_info=True)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "default"))
    diff = tmp_path / "log.diff"
    diff.write_text("--- a/nova/manager.py\n+++ b/nova/manager.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    case = tmp_path / "patched.yaml"
    case.write_text(f"extends: {DEFAULT}\nname: patched\nreleases:\n  to:\n    series: '2026.2'"
                    f"\n    sources:\n      nova: {{patch: {diff}}}\n")  # fmt: skip
    assert cli.main(["--cache-dir", str(tmp_path / "given"), "plan", str(case)]) == 0
    assert len(list((tmp_path / "given" / "patched").iterdir())) == 1
    assert not (tmp_path / "default" / "patched").exists()


# -- a target the catalog does not list yet (master) ----------------------------------------


def master_case(tmp_path: Path, checkout: Path, constraints_line: str | None) -> Path:
    case = tmp_path / "master.yaml"
    text = (f"extends: {DEFAULT}\nname: to-master\nreleases:\n  to:\n    series: master\n"
            f"    sources:\n      nova: {checkout}\n")  # fmt: skip
    if constraints_line is not None:
        uc = tmp_path / "upper-constraints.txt"
        uc.write_text(constraints_line)
        text += f"    constraints: {uc}\n"
    case.write_text(text)
    return case


def test_a_target_the_catalog_does_not_list_is_named_by_the_scenario(checkout, tmp_path,
                                                                     capsys):  # fmt: skip
    s = scenario.load(master_case(tmp_path, checkout, "oslo.config===10.0.0\n"))
    assert (s.release_from, s.release_to) == ("2026.1", "master")
    assert s.side("master") is s.side_to and s.side_to.constraints.pins == 1
    # Its projects without a source are the newest catalogued release's.
    newest = list(catalog.CATALOG.values())[-1]
    assert s.side_to.series.versions == newest.versions
    lines = venv.requirements(s.side_to, {"nova"})
    assert "keystone==" + newest.versions["keystone"] in lines and not any(
        line.startswith("nova==") for line in lines)  # fmt: skip
    # No lock: the venv key is made of its requirements, its source and its constraints.
    key = venv.venv_path(s.side_to, tmp_path)
    assert key.name.startswith("master-")
    assert cli.main(["plan", str(tmp_path / "master.yaml"), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "2026.1 -> master" in out and f"to master: nova from {checkout}" in out


def test_a_target_the_catalog_does_not_list_needs_constraints(checkout, tmp_path):
    with pytest.raises(UserError, match="'master' is not in the catalog .* needs "
                                        "upper-constraints"):  # fmt: skip
        scenario.load(master_case(tmp_path, checkout, None))


def test_the_old_side_must_be_a_catalogued_release(tmp_path):
    uc = tmp_path / "uc.txt"
    uc.write_text("oslo.config===10.0.0\n")
    case = tmp_path / "case.yaml"
    case.write_text(f"extends: {DEFAULT}\nreleases:\n  from: {{series: master, constraints: "
                    f"{uc}}}\n  to: '2026.2'\n")  # fmt: skip
    with pytest.raises(UserError, match=r"release 'from' \(master\) must be a catalogued"):
        scenario.load(case)
    assert cli.main(["plan", str(case)]) == 2


# -- a source is its side's series' code -----------------------------------------------------


def test_every_catalogued_project_bumps_its_major_version_once_a_series():
    # what check_series stands on: a project whose major stayed would be refused as its
    # own next series' code, and one that skipped two would be of no series
    from packaging.version import Version

    for project in catalog.PROJECTS:
        majors = [Version(s.versions[project]).major for s in catalog.CATALOG.values()]
        assert majors == list(range(majors[0], majors[0] + len(majors))), (project, majors)


@pytest.mark.parametrize("version, side, message", [
    ("33.0.1", "2026.2", "needs nova 34.x; roll it as the 2026.1 side."),
    ("35.0.0.0b1", "2026.2", "needs nova 34.x; roll it as a side the catalog does not list"),
    ("33.0.1", "master", "needs nova 34.x or newer; roll it as the 2026.1 side."),
    ("12.0.0", "2026.2", "the catalog has no release it belongs to."),
])  # fmt: skip
def test_a_source_of_another_series_is_refused(tmp_path, version, side, message):
    src = sources.Source("nova", tmp_path, "d")
    series = catalog.get(side) if catalog.is_catalogued(side) else catalog.unreleased(side)
    with pytest.raises(UserError, match=re.escape(message)):
        sources.check_series(src, version, series, catalog.is_catalogued(side))


@pytest.mark.parametrize("project, version, side", [
    ("nova", "34.0.0", "2026.2"),
    ("nova", "34.0.1.dev3", "2026.2"),  # a backport on stable/2026.2, as pbr versions it
    ("nova", "35.0.0.0b1", "master"),
    ("nova", "34.0.1.dev120", "master"),  # master past 2026.2's rc1 tag, as pbr versions it
    ("openstack-placement", "16.1.0", "2026.2"),
])  # fmt: skip
def test_a_source_of_its_side_s_series_is_taken(tmp_path, project, version, side):
    series = catalog.get(side) if catalog.is_catalogued(side) else catalog.unreleased(side)
    sources.check_series(sources.Source(project, tmp_path, "d"), version, series,
                         catalog.is_catalogued(side))  # fmt: skip
