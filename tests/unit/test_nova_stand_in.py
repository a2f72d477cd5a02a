"""The nova-compute stand-in where neutron's agents run: nova's fake driver plus each
guest's port on the node's OVS. Run here against a stub of nova's fake driver and a fake
`ovs-vsctl` (the real ones meet in the end-to-end agents test)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from harness.services.nova.service import STAND_IN

STUB = {
    "nova/__init__.py": "",
    "nova/virt/__init__.py": "",
    "nova/virt/fake.py": """
        CALLS = []
        class FakeDriverWithoutFakeNodes:
            def spawn(self, *args, **kwargs):
                CALLS.append("spawn")
            def destroy(self, *args, **kwargs):
                CALLS.append("destroy")
    """,
    "oslo_log/__init__.py": "",
    "oslo_log/log.py": """
        class _Log:
            def info(self, *args, **kwargs):
                pass
        def getLogger(name):
            return _Log()
    """,
    "bin/ovs-vsctl": """
        #!/bin/sh
        printf '%s\\n' "$*" >> "$VSCTL_CALLS"
    """,
}

DRIVE = """
import json, sys
from nova.virt import fake
from nova.utils_stub import instance
driver = __import__("nova.virt.ovs_plugging", fromlist=["x"]).PluggingFakeDriver()
vifs = json.loads(sys.argv[1])
driver.spawn(None, instance, None, [], "", {}, network_info=vifs)
driver.destroy(None, instance, vifs)
print(json.dumps(fake.CALLS))
"""


def stub(tmp_path: Path) -> Path:
    for name, text in {**STUB, "nova/utils_stub.py": (
            "class _I:\n    uuid = 'i-1'\ninstance = _I()\n")}.items():  # fmt: skip
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (tmp_path / "bin" / "ovs-vsctl").chmod(0o755)
    return tmp_path


def test_a_guests_ovs_port_is_added_at_spawn_and_removed_at_destroy(tmp_path):
    root = stub(tmp_path)
    vifs = [{"type": "ovs", "id": "p-1", "address": "fa:16:3e:00:00:01", "devname": "tapp-1"},
            {"type": "unbound", "id": "p-2", "address": "fa:16:3e:00:00:02"}]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{STAND_IN}:{root}", "VSCTL_CALLS": str(root / "calls"),
           "PATH": f"{root / 'bin'}:{os.environ['PATH']}"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", DRIVE, json.dumps(vifs)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["spawn", "destroy"]  # the fake driver's own work too
    calls = (root / "calls").read_text().splitlines()
    assert len(calls) == 2  # the unbound port is not plugged
    assert calls[0].split() == [
        "--timeout=30", "--may-exist", "add-port", "br-int", "tapp-1", "--", "set", "Interface",
        "tapp-1", "type=internal", "external-ids:iface-id=p-1", "external-ids:iface-status=active",
        "external-ids:attached-mac=fa:16:3e:00:00:01", "external-ids:vm-uuid=i-1"]  # fmt: skip
    assert calls[1].split() == ["--timeout=30", "--if-exists", "del-port", "br-int", "tapp-1"]


def test_without_the_stand_in_on_the_path_nova_virt_has_no_such_driver(tmp_path):
    root = stub(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", "import nova.virt.ovs_plugging"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr
