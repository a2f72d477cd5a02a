"""One module per OpenStack service. ORDER is the order they come up in (and, reversed,
the order they go down): identity first, nova last because it needs all the others. A
roll takes them in the same order: cinder's servers are rolled before nova, their client."""

from harness.services.base import Service
from harness.services.cinder.service import Cinder
from harness.services.glance.service import Glance
from harness.services.keystone.service import Keystone
from harness.services.neutron.service import Neutron
from harness.services.nova.service import Nova
from harness.services.placement.service import Placement

ORDER: tuple[Service, ...] = (Keystone(), Glance(), Placement(), Neutron(), Cinder(), Nova())

BY_NAME = {s.project: s for s in ORDER}

# What the services' guides require of the order (Service.upgraded_after), all services
# together: process → the processes that must run the new release before it does.
UPGRADED_AFTER: dict[str, tuple[str, ...]] = {
    p: first for s in ORDER for p, first in s.upgraded_after.items()
}

__all__ = ["ORDER", "BY_NAME", "UPGRADED_AFTER", "Service"]
