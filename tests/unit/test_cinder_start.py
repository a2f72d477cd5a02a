"""cinder's start as the cloud comes up: the scheduler starts once cinder-volume consumes
(so its request for the backends' capabilities reaches it), and the cloud is up only once
the scheduler lists the backend's pool — without starting anything."""

from types import SimpleNamespace

import pytest

from harness import scenario
from harness.errors import StepFailed
from harness.services import BY_NAME
from harness.services.cinder import service as cinder

from .test_config import ROOT, configured

CINDER = BY_NAME["cinder"]


def test_cinder_volume_starts_before_the_scheduler_which_asks_it_for_capabilities(tmp_path):
    cloud = configured(scenario.load(ROOT / "scenarios" / "nova-rolling.yaml"), tmp_path)
    order = CINDER.daemons(cloud.scenario.controller)
    assert sorted(order) == sorted(cinder.DAEMONS)
    assert order.index("cinder-volume") < order.index("cinder-scheduler")


class Pools:
    """A block-storage API whose scheduler learns pools as the calls go by."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.calls = 0

    def backend_pools(self):
        self.calls += 1
        names = self.answers[min(self.calls, len(self.answers)) - 1]
        return [SimpleNamespace(name=n) for n in names]


def test_the_wait_ends_when_the_scheduler_lists_the_backends_pool(monkeypatch):
    monkeypatch.setattr("harness.wait.tenacity.nap.time.sleep", lambda s: None)
    api = Pools([], ["compute-api@fake#fake"], ["controller@fake#fake"])
    cinder.wait_pool_known(SimpleNamespace(block_storage=api), "controller@fake", 30)
    assert api.calls == 3


def test_the_wait_fails_when_only_another_backend_is_known(monkeypatch):
    api = Pools(["controller@fakes#fake"])
    with pytest.raises(StepFailed, match="knowing the pools of controller@fake"):
        cinder.wait_pool_known(SimpleNamespace(block_storage=api), "controller@fake", 1.5)
    assert api.calls > 1
