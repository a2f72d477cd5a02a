import pytest

from harness.errors import UserError
from harness.releases import catalog, locks


def test_catalog_has_the_series_the_issue_names():
    assert {"2025.1", "2025.2", "2026.1", "2026.2"} <= set(catalog.CATALOG)


@pytest.mark.parametrize("series", list(catalog.CATALOG.values()), ids=str)
def test_every_series_pins_every_project_and_its_lock_agrees(series):
    assert set(series.versions) == set(catalog.PROJECTS)
    pins = locks.pinned(series.lock_file)
    for project, version in series.versions.items():
        assert pins[locks.normalise(project)] == version, project
    for support in catalog.SUPPORT_PACKAGES:
        assert locks.normalise(support) in pins


def test_series_are_in_release_order_with_increasing_dates_and_majors():
    series = list(catalog.CATALOG.values())
    assert [s.name for s in series] == sorted(s.name for s in series)
    assert [s.resolve_date for s in series] == sorted(s.resolve_date for s in series)
    for older, newer in zip(series, series[1:], strict=False):
        for project in catalog.PROJECTS:
            old_major = int(older.versions[project].split(".")[0])
            assert int(newer.versions[project].split(".")[0]) == old_major + 1, project


def test_old_series_resolve_old_libraries():
    # The reason locks exist: 2026.1 must not get 2026.2's SQLAlchemy 2.1.
    pins_old = locks.pinned(catalog.get("2026.1").lock_file)
    pins_new = locks.pinned(catalog.get("2026.2").lock_file)
    assert pins_old["sqlalchemy"].startswith("2.0.")
    assert pins_new["sqlalchemy"].startswith("2.1.")


def test_unknown_series_is_a_user_error_naming_the_known_ones():
    with pytest.raises(UserError, match="Unknown release '2019.9'.*2026.1"):
        catalog.get("2019.9")


def test_next_of():
    assert catalog.next_of("2026.1").name == "2026.2"
    assert catalog.next_of("2026.2") is None
