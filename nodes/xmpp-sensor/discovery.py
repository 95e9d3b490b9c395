"""What the sensor knows of its link: XMPP servers and XEP-0174 peers, found with mDNS/DNS-SD.

`Discovery(config, emit)` runs the node's mDNS engine (mdns.py) on the link named by
config "mdns"["interface"] and browses `_xmpp-client._tcp` (RFC 6120 §3.2.4 names it for
DNS SRV; DNS-SD uses the same service name) and `_presence._tcp` (XEP-0174 §3). The sensor's
loops hand it the time whenever they wait (`wait_bound()` says how long they may block,
`step()` drains the socket without blocking and fires the engine's timers), so the mDNS
timing rules hold while an XMPP stream is open.

`present(port)` announces the sensor itself as a XEP-0174 service (instance "name@host",
TXT txtvers=1 first, port.p2pj, status, XEP-0174 §3.3) and `absent()` withdraws it.
"""

try:
    import time
except ImportError:  # pragma: no cover
    import utime as time

import mdns
import mdnslink

XMPP_CLIENT = "_xmpp-client._tcp"
PRESENCE = "_presence._tcp"


def clock():
    return mdnslink.clock()


class Discovery:
    def __init__(self, config, emit):
        mcfg = dict(config.get("mdns") or {})
        self.emit = emit
        self.name = config["name"]
        interface = self.interface = mcfg.get("interface", "wpan0")
        addresses = [mdnslink.parse_ipv6(a) for a in mcfg.get("addresses", ())] or \
            mdnslink.interface_addresses(interface)
        self.engine = mdns.MDNS(mcfg.get("host", self.name), addresses,
                                int(config.get("seed", 1)), mcfg.get("mechanisms"))
        self.link = mdnslink.Link(interface)
        self.sock = self.link.sock
        self.sock.setblocking(False)
        self.instance = "%s@%s" % (self.name, mcfg.get("host", self.name))
        self.presence = None
        self.services = {}  # (type, instance) -> the service event
        now = clock()
        self.engine.start(now)
        self.engine.browse(XMPP_CLIENT, now)
        self.engine.browse(PRESENCE, now)
        self.step()

    # the engine's clock -------------------------------------------------------------------

    def wait_bound(self):
        """Seconds the caller may block before step() must run again."""
        deadline = self.engine.deadline()
        if deadline is None:
            return 1.0
        return max(0.0, min(1.0, deadline - clock()))

    def step(self):
        """Take what arrived, fire what is due, send what the engine wrote."""
        while True:
            try:
                data, source = self.sock.recvfrom(9000)
            except OSError:
                break
            if data:
                self.engine.receive(data, (source[0].split("%")[0], source[1]), clock())
        self.engine.poll(clock())
        for data, destination in self.engine.outgoing:
            try:
                self.link.send(data, destination)
            except OSError as exc:
                self.emit("mdns", what="send-failed", why=str(exc))
        self.engine.outgoing = []
        for event in self.engine.events:
            kind = event.get("mdns")
            if kind == "service":
                self.services[(event["type"], event["instance"])] = event
            elif kind == "service-removed":
                self.services.pop((event["type"], event["instance"]), None)
            if kind in ("service", "service-removed", "conflict"):
                fields = dict(event)
                fields["what"] = fields.pop("mdns")
                self.emit("mdns", **fields)
        self.engine.events = []

    def sleep(self, seconds):
        """Wait `seconds` while answering the link."""
        deadline = time.time() + seconds
        while True:
            self.step()
            left = deadline - time.time()
            if left <= 0:
                return
            self.link.sock.settimeout(max(0.001, min(left, self.wait_bound())))
            try:
                data, source = self.sock.recvfrom(9000)
                self.engine.receive(data, (source[0].split("%")[0], source[1]), clock())
            except OSError:
                pass
            self.sock.setblocking(False)

    # what was found ------------------------------------------------------------------------

    def server(self):
        """(address, port) of an XMPP server on the link, or None."""
        for (stype, _), event in sorted(self.services.items()):
            if stype == XMPP_CLIENT and event["addresses"]:
                return event["addresses"][0], event["port"]
        return None

    def peer(self, instance):
        """(address, port) of the XEP-0174 entity `instance` ("sink@br"), or None."""
        event = self.services.get((PRESENCE, instance))
        if event is None or not event["addresses"]:
            return None
        return event["addresses"][0], event["port"]

    def sent(self):
        """[packets, bytes] the node's mDNS sent so far."""
        packets = sum(v[0] for v in self.engine.sent.values())
        return [packets, sum(v[1] for v in self.engine.sent.values())]

    # the sensor's own presence -------------------------------------------------------------

    def present(self, port, status="avail"):
        if self.presence is None:
            txt = [("txtvers", "1"), ("port.p2pj", str(port)), ("status", status)]
            self.presence = self.engine.publish(self.instance, PRESENCE, port, txt, clock())
            self.step()

    def absent(self):
        if self.presence is not None:
            self.engine.withdraw(self.presence, clock())
            self.presence = None
            self.step()

    def close(self):
        self.engine.stop(clock())
        self.step()
        self.link.close()
