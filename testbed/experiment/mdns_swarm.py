"""Many nodes' mDNS in one process, for the mDNS study: the nodes' own engine, real sockets.

A 200-node study cannot afford 200 Python interpreters. This process runs one instance of the
node's engine (nodes/xmpp-sensor/mdns.py, unchanged) per node, each on a UDP socket created
inside that node's network namespace (so its datagrams go out of and come in through the
node's own wpan0, over the emulated radio), all driven by one selector loop. Each node
publishes `_presence._tcp` instance "<node>@<node>" (XEP-0174 shape) and browses
`_presence._tcp`: every node looks for every other, the worst case of serverless XMPP.

`python -m testbed.experiment.mdns_swarm CONFIG.json`, CONFIG: {"nodes": [{"name", "netns",
"addresses": [text, the global one last], "mac"}], "mechanisms": {...}, "seed": 1, "events":
path, "host_ttl", "other_ttl", "transport": "link" | "mpl" | "srp", "registrar": address}.
With "mpl" the engines' multicast goes to ff05::fb through each node's MPL forwarder
(nodes/xmpp-sensor/mpl.py, RFC 7731), read and written as raw frames on wpan0; unicast answers
still go through the kernel. With "srp" a node runs no mDNS: the node's SRP client
(nodes/xmpp-sensor/srp.py, RFC 9665) registers with the registrar (the border router's
testbed.services.srp_server) from its global address and browses it by unicast DNS, signing
with a P-256 key of its own; an answer too large for a datagram comes over TCP, in a thread
of its own. Events go to `events` as JSON lines, each with "node" and "t" (Unix time); READY
on stdout once every socket is open; SIGTERM: goodbyes, then {"mdns": "stopped", "sent"}
per node, then exit.
"""

from __future__ import annotations

import json
import queue
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from testbed.firmware import nodes_dir
from testbed.linux import inside_netns

SITE_GROUP = "ff05::fb"  # the MPL transport's group (RFC 7731 over the whole PAN)
PORT = 5353
INTERFACE = "wpan0"
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
MPL_MAC = bytes.fromhex("3333000000fb")  # RFC 2464 §7: 33:33 + the group's last 32 bits


def open_packet_socket(netns: str) -> socket.socket:
    """An AF_PACKET socket on `netns`'s wpan0 for MPL datagrams: Linux drops what carries an
    MPL option (unknown type 0x6D, top bits 01), so they are read and written below IP."""
    with inside_netns(netns):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
        sock.bind((INTERFACE, ETH_P_IPV6))
    sock.setblocking(False)
    return sock


class UnicastLink:
    """A node's UDP socket for SRP (any port), opened in its namespace; the shape of
    mdnslink.Link that the swarm uses."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.bind(("::", 0))

    def send(self, data: bytes, destination: tuple[str, int]) -> None:
        self.sock.sendto(data, destination)

    def close(self) -> None:
        self.sock.close()


def tcp_exchange(sock: socket.socket, destination: tuple[str, int], data: bytes,
                 timeout_s: float = 10.0) -> bytes | None:
    """One DNS message over TCP (RFC 7766: a 2-byte length before each); the answer, or None."""
    try:
        sock.settimeout(timeout_s)
        sock.connect(destination)
        sock.sendall(struct.pack(">H", len(data)) + data)
        head = b""
        while len(head) < 2:
            chunk = sock.recv(2 - len(head))
            if not chunk:
                return None
            head += chunk
        length, body = struct.unpack(">H", head)[0], b""
        while len(body) < length:
            chunk = sock.recv(length - len(body))
            if not chunk:
                return None
            body += chunk
        return body
    except OSError:
        return None
    finally:
        sock.close()


class Swarm:
    def __init__(self, config: dict[str, Any], out: Any) -> None:
        sys.path.insert(0, str(nodes_dir() / "xmpp-sensor"))
        import mdns  # the node's engine, as the nodes run it
        import mdnslink  # ... and its socket set-up
        import mpl
        import srp
        from prng import Xorshift32

        from testbed.services.srp_server import P256Key

        self.out = out
        self.mpl = config.get("transport", "link") == "mpl"
        registrar = config.get("registrar") if config.get("transport") == "srp" else None
        self.forwarders: dict[str, Any] = {}
        self.packet_sockets: dict[str, tuple[socket.socket, bytes]] = {}
        self.nodes: dict[str, Any] = {}
        self.links: dict[str, Any] = {}  # node -> mdnslink.Link, its socket in the node's netns
        self.selector = selectors.DefaultSelector()
        self.netns = {node["name"]: node["netns"] for node in config["nodes"]}
        # TCP exchanges (SRP answers too large for a datagram) run in threads, so no node
        # waits for another's; their answers come back through this queue and wake-up pair
        self.tcp_answers: queue.Queue[tuple[str, bytes, tuple[str, int]]] = queue.Queue()
        self.wake_read, self.wake_write = socket.socketpair()
        self.wake_read.setblocking(False)
        self.selector.register(self.wake_read, selectors.EVENT_READ, ("wake", ""))
        for node in config["nodes"]:
            name = node["name"]
            addresses = [socket.inet_pton(socket.AF_INET6, a) for a in node["addresses"]]
            txt = [("txtvers", "1"), ("port.p2pj", "5562"), ("status", "avail")]
            if registrar is not None:  # the global address only: the registrar is hops away
                engine = srp.Client(name, addresses[-1:], registrar, P256Key(),
                                    int(config.get("seed", 1)), unix_clock=time.time)
                engine.publish(f"{name}@{name}", "_presence._tcp", 5562, txt)
            else:
                engine = mdns.MDNS(name, addresses, int(config.get("seed", 1)),
                                   config.get("mechanisms"),
                                   int(config.get("host_ttl", mdns.HOST_TTL)),
                                   int(config.get("other_ttl", mdns.OTHER_TTL)))
                engine.publish(f"{name}@{name}", "_presence._tcp", 5562, txt)
            self.nodes[name] = engine
            with inside_netns(node["netns"]):  # the socket (and wpan0's index) are the node's
                link = self.links[name] = (UnicastLink() if registrar is not None
                                           else mdnslink.Link(INTERFACE))
            link.sock.setblocking(False)
            self.selector.register(link.sock, selectors.EVENT_READ, name)
            if self.mpl:  # seed address: the node's global one (routable beyond the link)
                self.forwarders[name] = mpl.Forwarder(
                    Xorshift32(f"mpl-{name}-{config.get('seed', 1)}"), addresses[-1])
                raw = open_packet_socket(node["netns"])
                self.packet_sockets[name] = (raw, bytes.fromhex(node["mac"].replace(":", "")))
                self.selector.register(raw, selectors.EVENT_READ, ("mpl", name))

    def start(self) -> None:
        now = time.monotonic()
        for engine in self.nodes.values():
            engine.start(now)
            engine.browse("_presence._tcp", now)
        self.flush_all()

    def flush(self, name: str) -> None:
        engine = self.nodes[name]
        link = self.links[name]
        forwarder = self.forwarders.get(name)
        for data, destination in engine.outgoing:
            if destination is None and forwarder is not None:
                forwarder.originate(socket.inet_pton(socket.AF_INET6, SITE_GROUP), PORT, PORT,
                                    data, time.monotonic())
                continue
            try:
                link.send(data, destination)
            except OSError as exc:
                self.write({"node": name, "mdns": "send-failed", "why": str(exc)})
        engine.outgoing = []
        for data, destination in getattr(engine, "outgoing_tcp", ()):
            with inside_netns(self.netns[name]):
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            threading.Thread(target=self.exchange, args=(name, sock, destination, data),
                             daemon=True).start()
        if getattr(engine, "outgoing_tcp", None):
            engine.outgoing_tcp = []
        if forwarder is not None:
            raw, mac = self.packet_sockets[name]
            for datagram in forwarder.outgoing:
                try:
                    raw.send(MPL_MAC + mac + struct.pack(">H", ETH_P_IPV6) + datagram)
                except OSError as exc:
                    self.write({"node": name, "mdns": "send-failed", "why": str(exc)})
            forwarder.outgoing = []
        for event in engine.events:
            self.write({"node": name, **event})
        engine.events = []

    def exchange(self, name: str, sock: socket.socket, destination: tuple[str, int],
                 data: bytes) -> None:
        answer = tcp_exchange(sock, destination, data)
        if answer is not None:
            self.tcp_answers.put((name, answer, destination))
        self.wake_write.send(b"!")

    def flush_all(self) -> None:
        for name in self.nodes:
            self.flush(name)

    def write(self, event: dict[str, Any]) -> None:
        event.setdefault("t", time.time())
        self.out.write(json.dumps(event) + "\n")

    def serve(self, stop: list[bool]) -> None:
        while not stop[0]:
            deadlines = [d for d in (e.deadline() for e in self.nodes.values()) if d is not None]
            deadlines += [d for d in (f.deadline() for f in self.forwarders.values())
                          if d is not None]
            wait = 1.0 if not deadlines else min(1.0, max(0.0, min(deadlines) - time.monotonic()))
            for key, _ in self.selector.select(wait):
                if key.data == ("wake", ""):
                    self.receive_tcp()
                    continue
                if isinstance(key.data, tuple):
                    self.receive_mpl(key.data[1])
                    continue
                name = key.data
                sock = self.links[name].sock
                while True:
                    try:
                        data, source = sock.recvfrom(9000)
                    except (BlockingIOError, InterruptedError):
                        break
                    self.nodes[name].receive(data, (source[0].split("%")[0], source[1]),
                                             time.monotonic())
            now = time.monotonic()
            for name, engine in self.nodes.items():
                deadline = engine.deadline()
                if deadline is not None and deadline <= now:
                    engine.poll(now)
                forwarder = self.forwarders.get(name)
                if forwarder is not None:
                    deadline = forwarder.deadline()
                    if deadline is not None and deadline <= now:
                        forwarder.poll(now)
                if (engine.outgoing or engine.events or getattr(engine, "outgoing_tcp", None)
                        or (forwarder and forwarder.outgoing)):
                    self.flush(name)

    def receive_tcp(self) -> None:
        try:
            while self.wake_read.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while not self.tcp_answers.empty():
            name, answer, source = self.tcp_answers.get()
            self.nodes[name].receive(answer, source, time.monotonic())
            self.flush(name)

    def receive_mpl(self, name: str) -> None:
        """Frames on the node's wpan0: new MPL datagrams to port 5353 go to its engine."""
        raw = self.packet_sockets[name][0]
        forwarder = self.forwarders[name]
        while True:
            try:
                frame, address = raw.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            if address[2] == PACKET_OUTGOING or len(frame) < 14:
                continue
            parsed = forwarder.receive(frame[14:], time.monotonic())
            if parsed is not None and parsed[5] == PORT:
                source = socket.inet_ntop(socket.AF_INET6, parsed[0])
                self.nodes[name].receive(parsed[6], (source, parsed[4]), time.monotonic())

    def stop(self) -> None:
        now = time.monotonic()
        for name, engine in self.nodes.items():
            engine.stop(now)
            self.flush(name)
            self.write({"node": name, "mdns": "stopped", "sent": engine.sent,
                        **({"mpl_sent": self.forwarders[name].sent}
                           if name in self.forwarders else {})})
        for link in self.links.values():
            link.close()
        for raw, _ in self.packet_sockets.values():
            raw.close()
        self.wake_read.close()
        self.wake_write.close()


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[1]).read_text())
    stop = [False]

    def stopping(signum: int, frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    with open(config["events"], "a", buffering=1) as out:
        swarm = Swarm(config, out)
        print("READY", flush=True)
        swarm.start()
        swarm.serve(stop)
        swarm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
