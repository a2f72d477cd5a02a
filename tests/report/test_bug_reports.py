"""`harness findings <run-dir>`: each finding of a recorded run written as a bug report
ready for upstream — versions, the replay command, the evidence — one per known finding
that occurred and one per oracle that failed beyond them."""

from harness import cli

from .recorded import write_run


def test_a_known_finding_becomes_one_report_with_versions_replay_and_evidence(tmp_path, capsys):
    run_dir = write_run(tmp_path / "xfail", "xfail")
    assert cli.main(["findings", str(run_dir)]) == 0
    reports = sorted((run_dir / "findings").glob("*.md"))
    assert [p.name[:9] for p in reports] == ["01-known-"]
    text = reports[0].read_text()
    assert text.startswith("# known: old nova-api cannot read what a newer one wrote")
    assert "harness run scenarios/nova-rolling.yaml --seed 42" in text
    assert text.count('"status": 500') == 3 and "## Versions" in text
    assert "1 findings written" in capsys.readouterr().out


def test_a_failure_nobody_expected_is_a_new_finding(tmp_path):
    run_dir = write_run(tmp_path / "fail", "fail")
    assert cli.main(["findings", str(run_dir)]) == 0
    names = [p.name for p in sorted((run_dir / "findings").glob("*.md"))]
    assert "01-new-failed-requests.md" in names


def test_a_folder_that_is_no_run_is_one_sentence_and_exit_2(tmp_path, capsys):
    assert cli.main(["findings", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a run folder" in err and "\n" not in err
    assert not (tmp_path / "findings").exists()
