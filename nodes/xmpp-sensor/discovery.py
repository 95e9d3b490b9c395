"""What the sensor knows of its link: XMPP servers and XEP-0174 peers, found with mDNS/DNS-SD.

`Discovery(config, emit)` runs the node's mDNS engine (mdns.py) on the link named by
config "mdns"["interface"] and browses `_xmpp-client._tcp` (RFC 6120 §3.2.4 names it for
DNS SRV; DNS-SD uses the same service name) and `_presence._tcp` (XEP-0174 §3). The sensor's
loops hand it the time whenever they wait (`wait_bound()` says how long they may block,
`step()` drains the socket without blocking and fires the engine's timers), so the mDNS
timing rules hold while an XMPP stream is open.

With "mdns"["proxy"] = {"address", "domain", "poll_s"} it also asks a DNS-SD discovery proxy
(RFC 8766, on the border router) by unicast DNS every poll_s: PTR for both service types under
the proxy's domain, the SRV, TXT and AAAA records coming in the additional section. Unicast
is routed, so this reaches a server or collector more than one hop away; an answer replaces
what the proxy said before (a service it no longer lists is gone).

`present(port)` announces the sensor itself as a XEP-0174 service (instance "name@host",
TXT txtvers=1 first, port.p2pj, status, XEP-0174 §3.3) and `absent()` withdraws it.
"""

import socket

import dnsmsg
import mdns
import mdnslink
from client import readable
from dnsmsg import AAAA, PTR, SRV, TXT, Message, Question

XMPP_CLIENT = "_xmpp-client._tcp"
PRESENCE = "_presence._tcp"
LINK_LOCAL_PORT = 5562  # XEP-0174 §4.1


clock = mdnslink.clock


def drain(sock):
    """Every datagram waiting on the non-blocking `sock`, as (data, source)."""
    while True:
        try:
            data, source = sock.recvfrom(9000)
        except OSError:
            return
        if data:
            yield data, source


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
        self.inbound = None  # linklocal.Inbound while the sensor is present
        self.services = {}  # (type, instance) -> the service event
        self.socks = [self.sock]
        self.proxy = mcfg.get("proxy")
        self.proxied = {}  # type -> (expiry, {instance: service event}) from the proxy
        self.proxy_sent = [0, 0]
        self.query_id = 0
        self.recent_ids = []  # the ids of the last questions to the proxy
        self.on_server = False  # connected to a server: no need to ask the proxy
        if self.proxy:
            self.usock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            self.usock.setblocking(False)
            self.socks.append(self.usock)
            self.proxy_queue = []
            self.proxy_at = clock() + self.engine.random.between(0.0, 0.5)
        now = clock()
        emit("mdns", what="started", interface=interface, proxy=bool(self.proxy))
        self.engine.start(now)
        self.engine.browse(XMPP_CLIENT, now)
        self.engine.browse(PRESENCE, now)
        self.step()

    # the engine's clock -------------------------------------------------------------------

    def wait_bound(self):
        """Seconds the caller may block before step() must run again."""
        deadline = self.engine.deadline()
        if self.proxy and not self.on_server:
            deadline = self.proxy_at if deadline is None else min(deadline, self.proxy_at)
        if deadline is None:
            return 1.0
        return max(0.0, min(1.0, deadline - clock()))

    def step(self):
        """Take what arrived, fire what is due, send what the engine wrote."""
        for data, source in drain(self.sock):
            self.engine.receive(data, (source[0].split("%")[0], source[1]), clock())
        if self.proxy:
            self.ask_proxy()
        if self.inbound is not None:
            self.inbound.step()
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
        """Wait `seconds` while answering the link (on the engine's clock: MicroPython's
        time.time() counts whole seconds on many ports)."""
        deadline = clock() + seconds
        while True:
            self.step()
            left = deadline - clock()
            if left <= 0:
                return
            readable(self.all_socks(), max(0.001, min(left, self.wait_bound())))

    def all_socks(self):
        """Every socket the sensor's wait loops must watch for discovery's sake."""
        return self.socks + (self.inbound.socks if self.inbound is not None else [])

    # the discovery proxy (unicast DNS) ------------------------------------------------------

    def ask_proxy(self):
        for data, _ in drain(self.usock):
            self.proxy_answer(data)
        now = clock()
        if now < self.proxy_at or self.on_server:
            return
        # jittered, and one question per datagram 20-120 ms apart: sensors that started
        # together do not ask in lockstep, nor two datagrams back to back (hidden terminals)
        poll = float(self.proxy.get("poll_s", 2.0))
        if not any(found for _, found in self.proxied.values()):
            poll = min(poll, 1.0)  # nothing heard yet (a lost answer?): ask again sooner
        if not self.proxy_queue:
            self.proxy_queue = [XMPP_CLIENT, PRESENCE]
        stype = self.proxy_queue.pop(0)
        self.proxy_at = now + (self.engine.random.between(*mdns.SHARED_DELAY_S)
                               if self.proxy_queue else
                               poll * self.engine.random.between(0.75, 1.25))
        domain = tuple(self.proxy.get("domain", "pan.testbed").split("."))
        self.query_id = (self.query_id + 1) & 0xFFFF
        self.recent_ids = (self.recent_ids + [self.query_id])[-4:]
        name = tuple(stype.split(".")) + domain
        data = Message(self.query_id, 0, questions=[Question(name, PTR)]).encode()
        try:
            self.usock.sendto(data, (self.proxy["address"], 53))
        except OSError as exc:
            self.emit("mdns", what="send-failed", why=str(exc))
            return
        self.proxy_sent[0] += 1
        self.proxy_sent[1] += len(data)

    def proxy_answer(self, data):
        try:
            msg = dnsmsg.decode(data)
        except (dnsmsg.DNSError, IndexError) as exc:
            self.emit("mdns", what="malformed", why=str(exc))
            return
        if not msg.is_response or not msg.questions or msg.id != self.query_id and \
                msg.id not in self.recent_ids:
            return  # not an answer to one of our last questions
        ptr_name = msg.questions[0].name
        stype = ".".join(ptr_name[:2])
        records = msg.records()
        found, ttl = {}, 1e9
        for ptr in [r for r in msg.answers if r.rtype == PTR]:
            srv = [r for r in records if r.rtype == SRV and dnsmsg.key(r.name) ==
                   dnsmsg.key(ptr.rdata)]
            if not srv:
                continue
            target = srv[0].rdata[3]
            addresses = [mdns.format_ipv6(r.rdata) for r in records
                         if r.rtype == AAAA and dnsmsg.key(r.name) == dnsmsg.key(target)]
            txt = [r for r in records if r.rtype == TXT and dnsmsg.key(r.name) ==
                   dnsmsg.key(ptr.rdata)]
            if len(ptr.rdata) < 1:
                continue
            ttl = min([ttl, ptr.ttl, srv[0].ttl])
            found[ptr.rdata[0]] = {"instance": ptr.rdata[0], "type": stype, "port":
                                   srv[0].rdata[2], "addresses": sorted(addresses),
                                   "host": dnsmsg.name_text(target), "via": "proxy",
                                   "txt": mdns.txt_strings(txt[0].rdata if txt else ())}
        before = self.proxied.get(stype, (0, {}))[1]
        self.proxied[stype] = (clock() + min(ttl, 3600), found)
        for instance, event in found.items():
            if before.get(instance) != event:
                self.emit("mdns", what="service", **event)
        for instance in before:
            if instance not in found:
                self.emit("mdns", what="service-removed", instance=instance, type=stype,
                          via="proxy")

    def found(self, stype):
        """[(instance, service event)] of `stype` from the link and from the proxy."""
        out = [(i, e) for (t, i), e in sorted(self.services.items()) if t == stype]
        expiry, proxied = self.proxied.get(stype, (0, {}))
        if expiry > clock():
            out += sorted(proxied.items())
        return out

    # what was found ------------------------------------------------------------------------

    def server(self):
        """(address, port) of an XMPP server found, or None."""
        for _, event in self.found(XMPP_CLIENT):
            if event["addresses"]:
                return event["addresses"][0], event["port"]
        return None

    def peer(self, instance):
        """(address, port) of the XEP-0174 entity `instance` ("sink@br"), or None."""
        for name, event in self.found(PRESENCE):
            if name == instance and event["addresses"]:
                return event["addresses"][0], event["port"]
        return None

    def sent(self):
        """[packets, bytes] discovery sent so far (mDNS and unicast queries to the proxy)."""
        packets = sum(v[0] for v in self.engine.sent.values()) + self.proxy_sent[0]
        return [packets, sum(v[1] for v in self.engine.sent.values()) + self.proxy_sent[1]]

    # the sensor's own presence -------------------------------------------------------------

    def connected(self, on_server):
        """A session to a server is up (True) or not: the proxy is asked only when not, since
        a server that goes away drops its streams, which the sensor notices by itself."""
        self.on_server = on_server
        if not on_server:
            self.proxy_at = min(getattr(self, "proxy_at", clock()), clock())

    def present(self, port=LINK_LOCAL_PORT, status="avail"):
        """Listen for link-local streams on `port` and announce it (XEP-0174 §3)."""
        if self.presence is None:
            from linklocal import Inbound

            self.inbound = Inbound(self.instance, port)
            txt = [("txtvers", "1"), ("port.p2pj", str(port)), ("status", status)]
            self.presence = self.engine.publish(self.instance, PRESENCE, port, txt, clock())
            self.step()

    def absent(self):
        if self.presence is not None:
            self.engine.withdraw(self.presence, clock())
            self.presence = None
            self.inbound.close()
            self.inbound = None
            self.step()

    def close(self):
        if self.inbound is not None:
            self.inbound.close()
        self.engine.stop(clock())
        self.step()
        self.link.close()
        if self.proxy:
            self.usock.close()
