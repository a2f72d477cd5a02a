"""Waiting for a restarted nova service: it is ready once it reports in after its start,
and a process that exited while starting ends the wait at once, not at the timeout."""

from __future__ import annotations

import datetime
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
