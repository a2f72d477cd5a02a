"""report.html opened in headless Chromium (Debian's chromium, driven by playwright; no
browser download): no console errors, the timeline and the tables are there and wired,
and a screenshot is written for a person to look at (reports/screenshots/)."""

import shutil
from pathlib import Path

import pytest

from harness import report
from harness.backends.embedded import prereqs

from .recorded import ROOT, STEPS, write_run

SHOTS = ROOT / "reports" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None and prereqs.is_root() and shutil.which("apt-get"):
        prereqs.install_packages(["chromium"])
        path = shutil.which("chromium")
    if path is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium, as root)")
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


def open_report(browser, run_dir: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
            else errors.append(f"network request: {r.url}"))  # fmt: skip
    page.goto((run_dir / "report.html").as_uri())
    page.wait_for_load_state("load")
    return page, errors


@pytest.mark.parametrize("kind", ["fail", "pass"])
def test_the_report_renders_offline_with_its_timeline_and_tables(browser, tmp_path, kind):
    run_dir = write_run(tmp_path / kind, kind)
    report.write_all(run_dir)
    page, errors = open_report(browser, run_dir)
    assert page.inner_text("#verdict") == kind
    assert page.locator("#timeline rect.band").count() == len(STEPS)
    lanes = page.locator("#timeline text.lane").all_text_contents()
    assert "controller nova-conductor" in lanes and len(lanes) == 5  # 3 processes, 2 computes
    assert page.locator("#oracles tr.oracle").count() == 13
    assert page.locator("#steps tr.step").count() == len(STEPS)
    # the latency table: one API, its baseline (before step 6.5) and phase 6 side by side
    assert page.locator("#latency tr.latency").count() == 1
    assert page.locator("#latency th[colspan]").all_text_contents() == ["baseline", "6"]
    # the tempest table: the baseline, the run during the roll and the one after
    runs = page.locator("#tempest tr.tempest-run")
    assert [runs.nth(i).locator("td").nth(1).inner_text() for i in range(runs.count())] == [
        "baseline", "during", "after"]  # fmt: skip
    # three failures sent in seconds 11 and 12 of the run: two red marks
    assert page.locator("#timeline rect.failure").count() == (2 if kind == "fail" else 0)
    # The script ties a step's row to its band.
    page.hover('#steps tr[data-step="6.14"]')
    assert "hot" in page.get_attribute('#timeline rect[data-step="6.14"]', "class")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"report-{kind}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []
    page.close()
