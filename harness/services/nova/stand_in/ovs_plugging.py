"""nova's fake virt driver, plus the one thing of a real hypervisor that neutron's agents
see: each guest's port on the node's integration bridge, as libvirt adds it for a VIF of
type `ovs` (an OVS port with a tap of its own, its interface's external ids naming the
neutron port, the MAC and the instance). The OVS agent then wires it and tells the server
(the port goes ACTIVE once the DHCP agent has its entry too): what a guest's boot asks of
neutron's agents, over RPC, across the roll. There is no guest behind the tap: no packet
from an instance, no DHCP request, no metadata. A stand-in of the harness, not nova's code.
"""

import subprocess

from nova.virt import fake
from oslo_log import log as logging

LOG = logging.getLogger(__name__)
BRIDGE = "br-int"
VSCTL_S = 30  # a bound on one ovs-vsctl call (measured: milliseconds)


def _tap(vif) -> str:
    return vif.get("devname") or ("tap" + vif["id"])[:14]


def _vsctl(*args: str) -> None:
    # OVS_RUNDIR (the node's OVS) is in the environment the harness gives nova-compute
    done = subprocess.run(["ovs-vsctl", f"--timeout={VSCTL_S}", *args],
                          capture_output=True, text=True, timeout=VSCTL_S + 5)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"ovs-vsctl {' '.join(args)}: {done.stderr.strip()}")


class PluggingFakeDriver(fake.FakeDriverWithoutFakeNodes):
    def spawn(self, context, instance, image_meta, injected_files, admin_password,
              allocations, network_info=None, *args, **kwargs):  # fmt: skip
        super().spawn(context, instance, image_meta, injected_files, admin_password,
                      allocations, network_info, *args, **kwargs)  # fmt: skip
        self.plug_vifs(instance, network_info or [])

    def destroy(self, context, instance, network_info, *args, **kwargs):
        self.unplug_vifs(instance, network_info or [])
        super().destroy(context, instance, network_info, *args, **kwargs)

    def plug_vifs(self, instance, network_info):
        for vif in network_info:
            if vif.get("type") != "ovs":
                continue
            tap = _tap(vif)
            LOG.info("Plugging %s (port %s) into %s", tap, vif["id"], BRIDGE, instance=instance)
            _vsctl("--may-exist", "add-port", BRIDGE, tap, "--",
                   "set", "Interface", tap, "type=internal",
                   f"external-ids:iface-id={vif['id']}", "external-ids:iface-status=active",
                   f"external-ids:attached-mac={vif['address']}",
                   f"external-ids:vm-uuid={instance.uuid}")  # fmt: skip

    def unplug_vifs(self, instance, network_info):
        for vif in network_info:
            if vif.get("type") == "ovs":
                _vsctl("--if-exists", "del-port", BRIDGE, _tap(vif))
