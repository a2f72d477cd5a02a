#!/usr/bin/env python3
"""Benchmark and spike: Open vSwitch and dnsmasq in a node's network namespace, as
neutron's agents would use them on this machine (no openvswitch kernel module, so the
userspace datapath), before the harness runs the agents (issue 17; research in
docs/neutron-agents-research.md).

In a fresh namespace standing in for a node: ovsdb-server and ovs-vswitchd in the
foreground with a private run directory, started with `nsenter --net` (not `ip netns exec`,
whose private mount namespace would hide the namespaces the agents create); a `br-int` of
`datapath_type=netdev`; two internal ports, one moved into a namespace made from inside
the node's (as the DHCP agent makes its `qdhcp-`), served by dnsmasq; then a DHCP
DISCOVER sent from the other port across the bridge, which must come back as an OFFER of
the address dnsmasq holds for that port's MAC (as the DHCP agent's host file does).

Prints each step's outcome and time, the daemons' RSS and ovs-vswitchd's CPU while idle.
Figures are printed, never asserted. Everything it starts is stopped by pid and its
namespaces removed, also on error or Ctrl-C.

    python bench/ovs_netns.py [--idle 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from harness.backends.embedded import prereqs

PACKAGES = ["openvswitch-switch", "dnsmasq-base"]
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
SUBNET, DHCP_IP, CLIENT_IP, FIXED_IP = "10.99.5", "10.99.5.2", "10.99.5.10", "10.99.5.77"


class Spike:
    def __init__(self) -> None:
        tag = os.getpid()
        self.node, self.sub = f"uhs-node-{tag}", f"uhs-qdhcp-{tag}"
        # a short directory: unix socket paths are at most 108 bytes
        self.dir = Path(tempfile.mkdtemp(prefix="uhs-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ, OVS_RUNDIR=str(self.dir), OVS_LOGDIR=str(self.dir),
                        OVS_DBDIR=str(self.dir))  # fmt: skip

    def in_node(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.node}", "--", *argv]

    def run(self, argv: list[str], node: bool = True) -> str:
        done = subprocess.run(self.in_node(argv) if node else argv, env=self.env,
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.dir / f"{name}.out", "wb")  # noqa: SIM115 (the child keeps it)
        self.procs[name] = subprocess.Popen(
            argv, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def vsctl(self, *args: str) -> str:
        return self.run(["ovs-vsctl", f"--db=unix:{self.dir}/db.sock", "--timeout=20", *args])

    def close(self) -> None:
        for proc in self.procs.values():  # ours, by pid, each in its own session
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        for ns in (self.sub, self.node):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(label: str, fn, *args):
    t0 = time.monotonic()
    try:
        out = fn(*args)
    except Exception as e:  # a spike reports what does not work, with the error
        print(f"{label:58} FAILED after {time.monotonic() - t0:.2f} s: {e}")
        raise
    print(f"{label:58} ok in {time.monotonic() - t0:.2f} s")
    return out


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {timeout:g} s")
        time.sleep(0.05)


def start_ovs(s: Spike) -> None:
    s.run(["ovsdb-tool", "create", str(s.dir / "conf.db"), str(SCHEMA)], node=False)
    s.spawn("ovsdb-server", s.in_node([
        "ovsdb-server", str(s.dir / "conf.db"), f"--remote=punix:{s.dir}/db.sock",
        "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
        f"--pidfile={s.dir}/ovsdb-server.pid", f"--unixctl={s.dir}/ovsdb-server.ctl",
        f"--log-file={s.dir}/ovsdb-server.log", "-vconsole:off"]))  # fmt: skip
    wait_for(s.dir / "db.sock")
    s.vsctl("--no-wait", "init")
    s.spawn("ovs-vswitchd", s.in_node([
        "ovs-vswitchd", f"unix:{s.dir}/db.sock", "--disable-system",
        f"--pidfile={s.dir}/ovs-vswitchd.pid", f"--unixctl={s.dir}/ovs-vswitchd.ctl",
        f"--log-file={s.dir}/ovs-vswitchd.log", "-vconsole:off"]))  # fmt: skip
    wait_for(s.dir / "ovs-vswitchd.ctl")


def bridge_and_ports(s: Spike) -> str:
    s.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev")
    for port in ("tapd", "tapc"):
        s.vsctl("add-port", "br-int", port, "--", "set", "interface", port, "type=internal")
    return s.run(["ovs-appctl", f"--target={s.dir}/ovs-vswitchd.ctl", "dpif/show"], node=False)


def dhcp_namespace(s: Spike) -> None:
    # made from inside the node's namespace, as the DHCP agent does: usable from the root one
    s.run(["ip", "netns", "add", s.sub])
    s.run(["ip", "link", "set", "tapd", "netns", s.sub])
    sub = ["ip", "netns", "exec", s.sub]
    s.run([*sub, "ip", "addr", "add", f"{DHCP_IP}/24", "dev", "tapd"], node=False)
    s.run([*sub, "ip", "link", "set", "tapd", "up"], node=False)
    s.run(["ip", "addr", "add", f"{CLIENT_IP}/24", "dev", "tapc"])
    s.run(["ip", "link", "set", "tapc", "up"])


def start_dnsmasq(s: Spike, mac: str) -> None:
    (s.dir / "hosts").write_text(f"{mac},{FIXED_IP}\n")  # as the DHCP agent's host file
    s.spawn("dnsmasq", ["ip", "netns", "exec", s.sub, "dnsmasq", "--no-daemon", "--port=0",
                        "--no-hosts", "--no-resolv", "--interface=tapd", "--bind-interfaces",
                        f"--dhcp-range={SUBNET}.100,{SUBNET}.150,255.255.255.0,120",
                        f"--dhcp-hostsfile={s.dir / 'hosts'}", "--log-dhcp"])  # fmt: skip
    deadline = time.monotonic() + 20  # --no-daemon writes no pid file: its log says when
    while "DHCP, sockets bound" not in (s.dir / "dnsmasq.out").read_text():
        if time.monotonic() > deadline or s.procs["dnsmasq"].poll() is not None:
            raise RuntimeError("dnsmasq did not start serving DHCP")
        time.sleep(0.05)


def mac_of(s: Spike, port: str) -> str:
    out = s.run(["ip", "-o", "link", "show", port])
    return out.split("link/ether ")[1].split()[0]


def discover(mac: str) -> bytes:
    """A DHCPDISCOVER (RFC 2131) from `mac`, asking for a broadcast answer."""
    chaddr = bytes.fromhex(mac.replace(":", "")) + bytes(10)
    zero = bytes(4)  # ciaddr, yiaddr, siaddr, giaddr
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x1234ABCD, 0, 0x8000,
                         zero, zero, zero, zero, chaddr, bytes(64), bytes(128))  # fmt: skip
    return header + bytes([99, 130, 83, 99, 53, 1, 1, 255])


def offered(s: Spike, mac: str) -> str:
    """Send the DISCOVER from tapc (in the node's namespace) and read the OFFER."""
    code = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.setsockopt(socket.SOL_SOCKET,socket.SO_BROADCAST,1)\n"
        "s.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,b'tapc')\n"
        "s.bind(('0.0.0.0',68)); s.settimeout(10)\n"
        "s.sendto(bytes.fromhex(sys.argv[1]),('255.255.255.255',67))\n"
        "data,_=s.recvfrom(2048); print(socket.inet_ntoa(data[16:20]))\n"
    )
    return s.run([sys.executable, "-c", code, discover(mac).hex()]).strip()


def measure(s: Spike, idle: float) -> None:
    procs = {name: psutil.Process(p.pid) for name, p in s.procs.items()}
    # the daemons themselves: nsenter and ip netns exec exec them, so the pids are theirs
    for p in procs.values():
        p.cpu_percent(None)
    time.sleep(idle)
    for name, p in procs.items():
        print(f"{name:14} RSS {p.memory_info().rss / 2**20:6.1f} MiB, "
              f"CPU {p.cpu_percent(None):5.1f} % over {idle:g} s idle")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle", type=float, default=10.0)
    args = ap.parse_args()
    if not prereqs.is_root():
        print("bench/ovs_netns.py needs root (network namespaces).", file=sys.stderr)
        return 2
    missing = [p for p in PACKAGES if not prereqs.package_installed(p)]
    if missing:
        timed(f"install {' '.join(missing)}", prereqs.install_packages, missing)
    version = subprocess.run(["ovs-vswitchd", "--version"], capture_output=True, text=True)
    print(version.stdout.splitlines()[0])
    s = Spike()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        subprocess.run(["ip", "netns", "add", s.node], check=True)
        subprocess.run(["ip", "-n", s.node, "link", "set", "lo", "up"], check=True)
        timed("ovsdb-server and ovs-vswitchd (nsenter --net)", start_ovs, s)
        print(timed("br-int (netdev) with two internal ports", bridge_and_ports, s).rstrip())
        timed("qdhcp-like namespace made from the node's, a port in it", dhcp_namespace, s)
        mac = mac_of(s, "tapc")
        timed("dnsmasq serving DHCP in it", start_dnsmasq, s, mac)
        got = timed(f"DHCP DISCOVER from {mac} across br-int", offered, s, mac)
        print(
            f"offered {got} (the host file holds {FIXED_IP} for {mac}): "
            f"{'as expected' if got == FIXED_IP else 'NOT what dnsmasq holds'}"
        )
        measure(s, args.idle)
    except Exception:
        for name in ("ovs-vswitchd.log", "ovsdb-server.log", "dnsmasq.out"):
            path = s.dir / name
            if path.exists():
                print(f"--- {name} (last lines)\n" + "\n".join(path.read_text().splitlines()[-8:]))
        return 1
    finally:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
