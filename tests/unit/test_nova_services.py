"""Waiting for a restarted nova service: it is ready once it reports in after its start,
and a process that exited while starting ends the wait at once, not at the timeout."""

from __future__ import annotations

import datetime
import time
from types import SimpleNamespace

import pytest

from harness.errors import StepFailed
from harness.services.nova import computes

SINCE = datetime.datetime(2026, 12, 2, 1, 0, 0)


def conn(updated: datetime.datetime | None):
    services = (
        []
        if updated is None
        else [SimpleNamespace(state="up", updated_at=updated.strftime("%Y-%m-%dT%H:%M:%S.%f"))]
    )
    return SimpleNamespace(compute=SimpleNamespace(services=lambda **_: services))


def test_a_service_that_reported_after_its_start_is_up():
    later = SINCE + datetime.timedelta(seconds=3)
    computes.wait_up(conn(later), "controller", "nova-compute", SINCE, 5,
                          alive=lambda: True)  # fmt: skip


def test_the_old_processs_last_report_does_not_count():
    with pytest.raises(StepFailed, match="reporting up did not happen within 1 s"):
        computes.wait_up(conn(SINCE), "controller", "nova-compute", SINCE, 1)


def test_a_process_that_exited_while_starting_ends_the_wait_at_once():
    asked = []  # how often the wait polled: once, not until its 600 s timeout
    with pytest.raises(StepFailed, match="nova-compute on controller exited while starting"):
        computes.wait_up(conn(None), "controller", "nova-compute", SINCE, 600,
                              alive=lambda: asked.append(1) and False)  # fmt: skip
    assert asked == [1]


class Builds:
    """Nova's BUILD servers as the API lists them: a build the scheduler placed just before
    the disable has no host on the first listing, and this host once its compute claims it."""

    def __init__(self, listings: list[list[tuple[str, str | None]]]):
        self.listings, self.disabled = listings, []

    def servers(self, **query):
        assert query == {"all_projects": True, "status": "BUILD"}
        rows = self.listings.pop(0) if len(self.listings) > 1 else self.listings[0]
        return [SimpleNamespace(id=i, compute_host=h) for i, h in rows]

    def services(self, **_):
        return iter([SimpleNamespace(id="svc")])

    def update_service(self, service, status, **_):
        self.disabled.append(status)


def test_disabling_waits_for_a_build_placed_just_before_it_to_finish():
    # at the disable b1 has no host yet; then its compute claims it; then it is done
    # (x builds elsewhere all along)
    compute = Builds([[("b1", None), ("x", "other")], [("b1", "controller"), ("x", "other")],
                      [("x", "other")]])  # fmt: skip
    computes.set_compute_enabled(SimpleNamespace(compute=compute), "controller", False, 5)
    assert compute.disabled == ["disabled"] and compute.listings == [[("x", "other")]]


def test_a_build_created_after_the_disable_does_not_hold_it():
    compute = Builds([[], [("late", None)]])  # the scheduler will not place it here
    computes.set_compute_enabled(SimpleNamespace(compute=compute), "controller", False, 1)


def test_a_build_stuck_unplaced_holds_the_disable_only_while_a_build_gets_placed(monkeypatch):
    monkeypatch.setattr(computes, "PLACING_S", 0.5)
    compute = Builds([[("lost", None)]])  # lost in a restart: never placed, never done
    started = time.monotonic()
    computes.set_compute_enabled(SimpleNamespace(compute=compute), "controller", False, 5)
    assert 0.5 <= time.monotonic() - started < 5
