"""Release venvs: a failed build says why in one sentence and leaves nothing half-built."""

import pytest

from harness.errors import UserError
from harness.releases import catalog, venv


def test_a_failed_install_names_uv_s_cause_and_leaves_no_venv(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "LOCK_DIR", tmp_path / "locks")
    (tmp_path / "locks").mkdir()
    series = catalog.Series("9999.1", "2026-01-01", {})
    series.lock_file.write_text("no-such-project-upgrade-harness==1.0\n")
    monkeypatch.setenv("UV_OFFLINE", "1")  # fails at once, with no registry asked
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv"))
    with pytest.raises(UserError) as caught:
        venv.ensure(series, tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith("Could not build the 9999.1 venv: uv pip install failed (")
    assert "no-such-project-upgrade-harness" in message and "\n" not in message
    assert "SSL_CERT_FILE" in message  # how to fix it behind a proxy
    assert list((tmp_path / "cache" / "venvs").iterdir()) == []


def test_uv_s_innermost_cause_is_the_reason():
    stderr = [
        "error: Failed to fetch: `https://pypi.org/simple/six/`",
        "  Caused by: Request failed after 3 retries",
        "  cause: error sending request for url (https://pypi.org/simple/six/)",
        "  cause: invalid peer certificate: UnknownIssuer",
        "hint: Consider enabling use of system TLS certificates",
    ]
    assert venv._reason(stderr) == "invalid peer certificate: UnknownIssuer"
    assert venv._reason(["something odd"]) == "something odd"


def test_a_venv_built_before_manifests_still_says_its_series(tmp_path):
    (tmp_path / venv.MARKER).write_text("2026.1\n")  # what older harnesses wrote
    assert venv.manifest(tmp_path) == {"series": "2026.1"}
    (tmp_path / venv.MARKER).write_text('{"series": "2026.2", "projects": {"nova": "34.0.0"}}')
    assert venv.manifest(tmp_path)["projects"] == {"nova": "34.0.0"}


def test_the_embedded_target_reports_what_its_built_venvs_hold(tmp_path):
    """Each side's versions for the reports, from the manifests of the cloud's venvs; a venv
    built before manifests, or missing, leaves its side to the catalog's versions."""
    import json
    from types import SimpleNamespace

    from harness.backends.embedded.backend import EmbeddedTarget

    new, old = tmp_path / "2026.2-a", tmp_path / "2026.1-b"
    for path, marker in ((new, {"series": "2026.2", "projects": {"nova": "34.0.1.dev3"}}),
                         (old, "2026.1")):  # fmt: skip
        path.mkdir()
        (path / venv.MARKER).write_text(json.dumps(marker))
    target = EmbeddedTarget.__new__(EmbeddedTarget)
    venvs = {"2026.2": str(new), "2026.1": str(old), "2025.2": str(tmp_path / "gone")}
    target.cloud = SimpleNamespace(record={"venvs": venvs})
    assert target.installed() == {"2026.2": {"nova": "34.0.1.dev3"}}
    target.cloud = None
    assert target.installed() == {}
