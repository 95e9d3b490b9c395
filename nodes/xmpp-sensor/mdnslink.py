"""The mDNS engine (mdns.py) on a real link: UDP port 5353, group ff02::fb, one interface.

Run alone it is the node's responder and querier: `python3 mdnslink.py CONFIG.json` with
    {"interface": "wpan0", "host": "s1", "addresses": ["fe80::..."] (default: the interface's),
     "seed": 1, "services": [{"instance": "s1@s1", "type": "_presence._tcp", "port": 5562,
     "txt": [["txtvers", "1"], ...]}], "browse": ["_xmpp-client._tcp"],
     "mechanisms": {"known_answer": false, ...}, "host_ttl": 120, "other_ttl": 4500}
It prints the engine's events as JSON lines, and on SIGTERM or SIGINT says goodbye (TTL 0)
and prints what it sent ({"mdns": "stopped", "sent": {kind: [packets, bytes]}}).
The hop limit is 255 (RFC 6762 §11) and the socket does not hear its own packets.
"""

import json
import socket
import struct
import sys

try:
    import time
except ImportError:  # pragma: no cover
    import utime as time

import mdns
from sigterm import stop_on_sigterm

IPPROTO_IPV6 = getattr(socket, "IPPROTO_IPV6", 41)
IPV6_JOIN_GROUP = getattr(socket, "IPV6_JOIN_GROUP", 20)
IPV6_MULTICAST_IF = getattr(socket, "IPV6_MULTICAST_IF", 17)
IPV6_MULTICAST_HOPS = getattr(socket, "IPV6_MULTICAST_HOPS", 18)
IPV6_MULTICAST_LOOP = getattr(socket, "IPV6_MULTICAST_LOOP", 19)
SO_REUSEPORT = getattr(socket, "SO_REUSEPORT", 15)


def clock():
    """Seconds from a clock that does not jump."""
    if hasattr(time, "monotonic"):
        return time.monotonic()
    return time.ticks_ms() / 1000.0  # pragma: no cover - MicroPython


def ifindex(interface):
    if hasattr(socket, "if_nametoindex"):
        return socket.if_nametoindex(interface)
    with open("/sys/class/net/%s/ifindex" % interface) as f:  # pragma: no cover
        return int(f.read())


def interface_addresses(interface):
    """The interface's IPv6 addresses, link-local first (Linux /proc/net/if_inet6)."""
    found = []
    with open("/proc/net/if_inet6") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == interface:
                raw = bytes(int(fields[0][i:i + 2], 16) for i in range(0, 32, 2))
                found.append(raw)
    return sorted(found, key=lambda a: not a.startswith(b"\xfe\x80"))


def parse_ipv6(text):
    return socket.inet_pton(socket.AF_INET6, text)


class Link:
    def __init__(self, interface, group=mdns.GROUP):
        self.index = ifindex(interface)
        self.group = group
        s = self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_REUSEPORT, 1)  # beside avahi on one host
        except OSError:  # pragma: no cover
            pass
        s.bind(("::", mdns.PORT))
        s.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, parse_ipv6(group) + struct.pack("@I",
                                                                                     self.index))
        s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, struct.pack("@i", self.index))
        s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, struct.pack("@i", 255))
        s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, struct.pack("@i", 0))

    def send(self, data, destination=None):
        if destination is None:
            self.sock.sendto(data, (self.group, mdns.PORT, 0, self.index))
        else:
            self.sock.sendto(data, (destination[0], destination[1], 0, self.index))

    def receive(self, timeout):
        """(data, (address, port)) or None after `timeout` seconds."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, source = self.sock.recvfrom(9000)
        except OSError as exc:
            if exc.__class__.__name__ in ("timeout", "TimeoutError") or (
                    exc.args and exc.args[0] in (110, 11)):
                return None
            raise
        return data, (source[0].split("%")[0], source[1])

    def close(self):
        self.sock.close()


def flush(engine, link, out):
    for data, destination in engine.outgoing:
        try:
            link.send(data, destination)
        except OSError as exc:  # no usable source address yet (DAD), an interface going down
            engine.event("send-failed", why="%s: %s" % (exc.__class__.__name__, exc))
    engine.outgoing = []
    for event in engine.events:
        out.write(json.dumps(event) + "\n")
    engine.events = []
    try:
        out.flush()
    except AttributeError:  # pragma: no cover
        pass


def engine_from(config, addresses):
    engine = mdns.MDNS(config["host"], addresses, int(config.get("seed", 1)),
                       config.get("mechanisms"), int(config.get("host_ttl", mdns.HOST_TTL)),
                       int(config.get("other_ttl", mdns.OTHER_TTL)))
    for s in config.get("services", ()):
        engine.publish(s["instance"], s["type"], int(s["port"]),
                       [(k, v) for k, v in s.get("txt", ())])
    return engine


def run(config, out=sys.stdout, until=None):
    """Serve until SIGINT/SIGTERM (or clock() >= until); goodbye; the engine."""
    interface = config["interface"]
    addresses = [parse_ipv6(a) for a in config.get("addresses", ())] or \
        interface_addresses(interface)
    engine = engine_from(config, addresses)
    link = Link(interface)
    now = clock()
    engine.start(now)
    for stype in config.get("browse", ()):
        engine.browse(stype, now)
    out.write(json.dumps({"mdns": "ready", "host": config["host"]}) + "\n")
    try:
        while until is None or now < until:
            engine.poll(now)
            flush(engine, link, out)
            deadline = engine.deadline()
            wait = 1.0 if deadline is None else min(max(deadline - clock(), 0.0), 1.0)
            got = link.receive(wait)
            now = clock()
            if got is not None and got[0]:
                engine.receive(got[0], got[1], now)
    except KeyboardInterrupt:
        pass
    finally:  # goodbye and close, whatever ended the loop
        engine.stop(clock())
        flush(engine, link, out)
        out.write(json.dumps({"mdns": "stopped", "sent": engine.sent}) + "\n")
        link.close()
    return engine


def main(argv):
    stop_on_sigterm()
    if len(argv) < 2:
        sys.stderr.write("usage: mdnslink.py CONFIG.json\n")
        return 2
    with open(argv[1]) as f:
        config = json.load(f)
    run(config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
