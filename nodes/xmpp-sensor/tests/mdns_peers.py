"""One Ethernet link between two network namespaces, for the node's mDNS against real peers.

`node` runs the node's mdnslink.py; `peer` runs avahi-daemon (with its own dbus-daemon, since
avahi-browse and avahi-publish talk to it over D-Bus), python-zeroconf, or the test's own
socket, and captures every packet on its end of the link with kernel timestamps (AF_PACKET,
SO_TIMESTAMPNS), decoded by scapy, so rules are checked on what went over the wire.
Everything started here is stopped and both namespaces are deleted on exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.dns import DNS
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from testbed.backends import netns as ns

APP = Path(__file__).resolve().parents[1]
GROUP = "ff02::fb"
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35


@dataclass
class Packet:
    t: float  # kernel receive time, seconds (CLOCK_REALTIME)
    source: str
    sport: int
    dns: DNS

    @property
    def is_response(self) -> bool:
        return bool(self.dns.qr)

    def questions(self) -> list[tuple[str, int, int]]:
        """(name, qtype, QU bit) of each question."""
        return [(q.qname.decode().rstrip("."), q.qtype, q.unicastresponse) for q in self.dns.qd]

    def records(self, section: str = "an") -> list:
        return list(getattr(self.dns, section) or [])

    def names(self, section: str = "an") -> list[str]:
        return [rr.rrname.decode().rstrip(".") for rr in self.records(section)]


class Capture:
    """Every mDNS packet on the peer's end of the link, as it went by."""

    def __init__(self, link: LinkPair) -> None:
        self.link = link
        self.packets: list[Packet] = []
        self.sock = ns.run_in_netns(link.peer, lambda: socket.socket(
            socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)))
        self.sock.bind((link.peer_if, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.1)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        while not self.stopping.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(9000, 64)
            except TimeoutError:
                continue
            except OSError:
                return
            t = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    t = sec + nsec / 1e9
            frame = Ether(data)
            if IPv6 in frame and frame[IPv6].nh == 17 and DNS in frame:
                udp = frame[IPv6].payload
                if 5353 in (udp.sport, udp.dport):
                    self.packets.append(Packet(t, frame[IPv6].src, udp.sport, frame[DNS]))

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()

    def sent_by(self, address: str) -> list[Packet]:
        return [p for p in list(self.packets) if p.source == address]

    def wait(self, address: str, matches, timeout: float = 5.0, after: float = 0.0) -> Packet:
        """The first packet from `address` received after `after` for which matches(p)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.sent_by(address):
                if p.t > after and matches(p):
                    return p
            time.sleep(0.01)
        raise AssertionError(f"no matching packet from {address} in {timeout} s; saw "
                             f"{[(round(p.t - after, 3), p.dns.summary()) for p in self.packets]}")


class NodeProcess:
    """The node's mdnslink.py in the node namespace; its events as they come."""

    def __init__(self, link: LinkPair, config: dict) -> None:
        self.path = Path(link.tmp) / f"node-{secrets.token_hex(2)}.json"
        config = {"interface": link.node_if, "host": "s1", "seed": 1, **config}
        self.path.write_text(json.dumps(config))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", link.node, sys.executable, str(APP / "mdnslink.py"),
             str(self.path)], stdout=subprocess.PIPE, text=True, cwd=APP)
        self.events: list[dict] = []
        self.fresh: queue.Queue[dict] = queue.Queue()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            self.events.append(event)
            self.fresh.put(event)

    def wait_for(self, kind: str, timeout: float = 10.0, **match: object) -> dict:
        deadline = time.monotonic() + timeout
        for event in list(self.events):
            if event.get("mdns") == kind and all(event.get(k) == v for k, v in match.items()):
                return event
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} {match} within {timeout} s; events: "
                                     f"{self.events}")
            try:
                event = self.fresh.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("mdns") == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def stop(self) -> list[dict]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=2)
        return self.events


def _private_run_dir(directory: str) -> None:
    """In the child, before exec: its own mount namespace with `directory` on
    /run/avahi-daemon, so a system avahi-daemon's pid file does not stop ours."""
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newns, ms_rec, ms_private, ms_bind = 0x20000, 0x4000, 0x40000, 0x1000
    if libc.unshare(clone_newns) != 0:
        os._exit(120)
    libc.mount(b"none", b"/", None, ms_rec | ms_private, None)
    os.makedirs("/run/avahi-daemon", exist_ok=True)
    if libc.mount(directory.encode(), b"/run/avahi-daemon", None, ms_bind, None) != 0:
        os._exit(121)


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy></busconfig>
"""

AVAHI_CONFIG = """[server]
host-name={host}
domain-name=local
use-ipv4=no
use-ipv6=yes
allow-interfaces={interface}
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
"""


class Avahi:
    """avahi-daemon in the peer namespace on its own system bus; avahi-browse/-publish."""

    def __init__(self, link: LinkPair, host: str = "peer") -> None:
        self.link = link
        self.dir = Path(tempfile.mkdtemp(prefix="avahi-", dir=link.tmp))
        bus = self.dir / "bus"
        (self.dir / "bus.conf").write_text(BUS_CONFIG.format(socket=bus))
        (self.dir / "avahi.conf").write_text(AVAHI_CONFIG.format(host=host,
                                                                 interface=link.peer_if))
        (self.dir / "run").mkdir()
        self.env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}"}
        self.procs: list[subprocess.Popen] = []
        self.start(["dbus-daemon", "--nofork", f"--config-file={self.dir / 'bus.conf'}"],
                   "dbus.log")
        self.wait(lambda: bus.exists(), "dbus-daemon's socket")
        daemon = self.start(["ip", "netns", "exec", link.peer, "avahi-daemon", "-f",
                             str(self.dir / "avahi.conf"), "--no-drop-root", "--no-chroot",
                             "--no-rlimits", "--no-proc-title"], "avahi.log",
                            run_dir=str(self.dir / "run"))
        self.daemon = daemon
        self.wait(lambda: "Server startup complete" in self.log("avahi.log"),
                  "avahi-daemon's start-up")

    def log(self, name: str) -> str:
        path = self.dir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, argv: list[str], log: str, run_dir: str | None = None) -> subprocess.Popen:
        with open(self.dir / log, "ab") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                preexec_fn=(lambda: _private_run_dir(run_dir)) if run_dir else None)
        self.procs.append(proc)
        return proc

    def wait(self, ready, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise AssertionError(f"{what} not ready: dbus: {self.log('dbus.log')} "
                                     f"avahi: {self.log('avahi.log')}")
            time.sleep(0.05)

    def publish(self, instance: str, stype: str, port: int, *txt: str) -> subprocess.Popen:
        name = f"publish-{secrets.token_hex(2)}.log"
        proc = self.start(["ip", "netns", "exec", self.link.peer, "avahi-publish", "-s",
                           instance, stype, str(port), *txt], name)
        self.wait(lambda: "Established under name" in self.log(name), "avahi-publish")
        return proc

    def browse(self, stype: str, timeout: float = 6.0) -> list[list[str]]:
        """avahi-browse -r -p -t: the resolved ('=') lines, split at ';'."""
        proc = subprocess.run(["ip", "netns", "exec", self.link.peer, "avahi-browse", "-r",
                               "-p", "-t", stype], capture_output=True, text=True,
                              env=self.env, timeout=timeout + 10)
        return [line.split(";") for line in proc.stdout.splitlines() if line.startswith("=")]

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class LinkPair:
    """node <-> peer on one link; with `router=True`, node <-> router <-> peer instead: two
    links, routed (fd55:1::/64 node side, fd55:2::/64 peer side), so multicast from one end
    never reaches the other."""

    def __init__(self, router: bool = False) -> None:
        tag = secrets.token_hex(2)
        self.node, self.peer = f"tb-mdns-{tag}-n", f"tb-mdns-{tag}-p"
        self.router = f"tb-mdns-{tag}-r" if router else None
        self.node_if, self.peer_if = "eth0", "eth0"
        self.tmp = ""
        self.node_address = self.peer_address = ""
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> LinkPair:
        try:
            return self.set_up()
        except BaseException:
            self.stack.close()
            raise

    def set_up(self) -> LinkPair:
        self.tmp = self.stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-mdns-"))
        names = [self.node, self.peer] + ([self.router] if self.router else [])
        ns.add_netns(names)
        self.stack.callback(ns.delete_netns, names)
        self.stack.callback(ns.kill_netns_processes, names)
        for name in names:  # no duplicate address detection: usable at once
            ns.write_sysctls(name, {"net/ipv6/conf/default/accept_dad": "0",
                                    "net/ipv6/conf/all/accept_dad": "0"})
        if self.router:
            self.route_through(self.router)
        else:
            ns.ip(["link", "add", self.node_if, "netns", self.node, "type", "veth", "peer",
                   "name", self.peer_if, "netns", self.peer])
        for name, interface in ((self.node, self.node_if), (self.peer, self.peer_if)):
            ns.ip_batch(["link set lo up", f"link set {interface} up"], netns=name)
        self.node_address = self.link_local(self.node, self.node_if)
        self.peer_address = self.link_local(self.peer, self.peer_if)
        return self

    def route_through(self, router: str) -> None:
        ns.write_sysctls(router, {"net/ipv6/conf/all/forwarding": "1"})
        ns.ip(["link", "add", self.node_if, "netns", self.node, "type", "veth", "peer", "name",
               "r-node", "netns", router])
        ns.ip(["link", "add", self.peer_if, "netns", self.peer, "type", "veth", "peer", "name",
               "r-peer", "netns", router])
        ns.ip_batch(["link set lo up", "link set r-node up", "link set r-peer up",
                     "address add fd55:1::1/64 dev r-node nodad",
                     "address add fd55:2::2/64 dev r-peer nodad"], netns=router)
        ns.ip_batch([f"link set {self.node_if} up",
                     f"address add fd55:1::2/64 dev {self.node_if} nodad",
                     "route add default via fd55:1::1"], netns=self.node)
        ns.ip_batch([f"link set {self.peer_if} up",
                     f"address add fd55:2::1/64 dev {self.peer_if} nodad",
                     "route add default via fd55:2::2"], netns=self.peer)

    def link_local(self, name: str, interface: str) -> str:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            out = ns.ip(["-6", "-o", "addr", "show", "dev", interface, "scope", "link"],
                        netns=name)
            if "inet6" in out and "tentative" not in out:
                return out.split("inet6 ")[1].split("/")[0]
            time.sleep(0.05)
        raise AssertionError(f"{name}: no link-local address on {interface}")

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def capture(self) -> Capture:
        capture = Capture(self)
        self.stack.callback(capture.close)
        return capture

    def node_process(self, config: dict) -> NodeProcess:
        node = NodeProcess(self, config)
        self.stack.callback(node.stop)
        return node

    def avahi(self) -> Avahi:
        avahi = Avahi(self)
        self.stack.callback(avahi.close)
        return avahi

    def peer_socket(self) -> PeerSocket:
        sock = PeerSocket(self)
        self.stack.callback(sock.close)
        return sock

    def peer_process(self, argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", self.peer, *argv],
                                stdout=subprocess.PIPE, text=True)

        def stop() -> None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.stack.callback(stop)
        return proc


class PeerSocket:
    """The test as another mDNS host on the link: sends what it is told to, from port 5353."""

    def __init__(self, link: LinkPair) -> None:
        self.link = link
        self.sock = ns.run_in_netns(link.peer, lambda: socket.socket(socket.AF_INET6,
                                                                      socket.SOCK_DGRAM))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::", 5353))
        self.index = ns.run_in_netns(link.peer, lambda: socket.if_nametoindex(link.peer_if))
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.index)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, (GROUP, 5353, 0, self.index))

    def close(self) -> None:
        self.sock.close()
