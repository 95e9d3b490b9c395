"""DNS-SD Service Registration Protocol client (RFC 9665) and unicast DNS-SD browsing.

mDNS reaches one hop. SRP crosses any number: the node registers its host and service with
the registrar on the border router in one signed DNS UPDATE (RFC 2136), sent by unicast, and
finds its peers by asking that registrar ordinary unicast DNS questions (RFC 6763 over
unicast), which routing carries across the mesh like any datagram.

The registration, as RFC 9665 §3.3 lays it out (zone "default.service.arpa"):
  zone section       default.service.arpa SOA
  update section     service discovery: <type> PTR <instance>
                     service description: delete all RRsets of <instance>, its SRV and TXT
                     host description: delete all RRsets of <host>, its AAAA records, its KEY
  additional         EDNS(0) with the Update Lease option (RFC 9664: lease, key lease)
                     SIG(0) (RFC 2931) by the host's key, ECDSA P-256/SHA-256 (algorithm 13)
The key is given: an object with `public` (64 bytes, x then y) and `sign(data)` (64 bytes,
r then s). MicroPython has no ECDSA, so a board needs it from elsewhere (a crypto chip or a
C library); the emulated nodes use the testbed's (testbed/services/srp_server.P256Key).

The client is driven like mdns.MDNS (the study swaps one for the other): `start(now)`,
`browse(type, now)`, `receive(data, source, now)`, `poll(now)`, `deadline()`, `stop(now)`;
packets in `outgoing` [(bytes, (server address, 53))]; a question whose UDP answer came
truncated (TC: more than EDNS_PAYLOAD bytes, e.g. a browse of a large PAN) is asked again over
TCP (RFC 7766): `outgoing_tcp` [(bytes, (server address, 53))], the caller sends each on a
connection of its own (2-byte length prefix) and gives the answer to receive(); events in
`events` (a peer found:
{"mdns": "service", "instance", "type", "host", "port", "addresses"}), what it sent in `sent`
{"register": [packets, bytes], "query": [...], "query-tcp": [...]}.
Timing: the registration goes out after a random 0-250 ms (so a PAN that boots together does
not send at once) and is sent again after 1, 2, 4 ... s (each up to 25 % longer at random)
until acknowledged; a browse asks
20-120 ms after the registration is acknowledged, then 1 s later, doubling to 60 min (RFC 6762
§5.2's schedule: unicast DNS has no push here, RFC 8765 DNS Push is not built); an instance
whose SRV or address did not come with the answer is asked for on its own, up to six times.
"""

import struct

import dnsmsg
from dnsmsg import AAAA, ANY, PTR, SRV, TXT, Message, Question, Record, key
from prng import Xorshift32

PORT = 53
ZONE = ("default", "service", "arpa")
SOA = 6
SIG = 24
KEY = 25
OPT = 41
UPDATE = 5 << 11  # opcode UPDATE in the header's flags
UPDATE_LEASE_OPTION = 2  # RFC 9664
ECDSAP256SHA256 = 13
KEY_PROTOCOL_DNSSEC = 3
LEASE_S = 7200
KEY_LEASE_S = 14 * 86400
HOST_TTL = 120
OTHER_TTL = 4500
EDNS_PAYLOAD = 1232  # what this client takes over UDP (the DNS flag day 2020 size)
START_WAIT_S = 0.250
FIRST_QUERY_S = (0.020, 0.120)
QUERY_INTERVAL_MAX_S = 3600.0
ASK_TRIES = 6
SIG_VALIDITY_S = 300
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
               5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
               10: "NOTZONE"}


def key_rdata(public):
    """KEY rdata (RFC 2535 §3.1): flags 0 (a non-zone key that may authenticate), protocol
    3, algorithm 13, the public key as x then y (RFC 6605 §4)."""
    return struct.pack(">HBB", 0, KEY_PROTOCOL_DNSSEC, ECDSAP256SHA256) + bytes(public)


def key_tag(rdata):
    """RFC 4034 Appendix B."""
    total = 0
    for i in range(len(rdata)):
        total += rdata[i] << 8 if i % 2 == 0 else rdata[i]
    total += (total >> 16) & 0xFFFF
    return total & 0xFFFF


def wire_name(labels):
    """A name in wire form, lower case, uncompressed (the SIG's signer, RFC 4034 §6.2)."""
    out = bytearray()
    for label in labels:
        raw = label.lower().encode()
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def sig0_prefix(signer, inception, expiration, tag):
    """The SIG(0) rdata up to its signature (RFC 2931 §3): type covered 0, algorithm, labels
    0, original TTL 0, expiration, inception, key tag, signer."""
    return struct.pack(">HBBIIIH", 0, ECDSAP256SHA256, 0, 0, expiration, inception,
                       tag) + wire_name(signer)


def signed_update(msg, signer, key, unix_now):
    """The message's bytes with a SIG(0) record appended: the signature covers the SIG rdata
    before its signature field, then the message as it was without the SIG (RFC 2931 §3.1)."""
    data = msg.encode()
    tag = key_tag(key_rdata(key.public))
    prefix = sig0_prefix(signer, (unix_now - SIG_VALIDITY_S) & 0xFFFFFFFF,
                         (unix_now + SIG_VALIDITY_S) & 0xFFFFFFFF, tag)  # serial arithmetic
    signature = bytes(key.sign(prefix + data))
    e = dnsmsg.Encoder()
    e.out += data
    arcount = struct.unpack_from(">H", data, 10)[0]
    struct.pack_into(">H", e.out, 10, arcount + 1)
    e.out += b"\x00"  # the root name
    rdata = prefix + signature
    e.out += struct.pack(">HHIH", SIG, ANY, 0, len(rdata)) + rdata
    return bytes(e.out)


def edns(lease=None, key_lease=None, payload=EDNS_PAYLOAD):
    """An OPT record: the UDP payload this side takes, and the Update Lease option if given."""
    options = b""
    if lease is not None:
        options = struct.pack(">HHII", UPDATE_LEASE_OPTION, 8, lease, key_lease)
    return Record((), OPT, options, 0, rclass=payload)


def lease_of(msg):
    """(lease, key lease) from a message's Update Lease option, or None."""
    for r in msg.additional:
        if r.rtype != OPT:
            continue
        data, at = bytes(r.rdata), 0
        while at + 4 <= len(data):
            code, length = struct.unpack_from(">HH", data, at)
            if code == UPDATE_LEASE_OPTION and length in (4, 8):
                lease = struct.unpack_from(">I", data, at + 4)[0]
                key_lease = struct.unpack_from(">I", data, at + 8)[0] if length == 8 else lease
                return lease, key_lease
            at += 4 + length
    return None


def in_zone(*labels):
    return tuple(labels) + ZONE


class Client:
    def __init__(self, host, addresses, server, key, seed=1, lease=LEASE_S,
                 key_lease=KEY_LEASE_S, unix_clock=None):
        self.host = host
        self.addresses = [bytes(a) for a in addresses]
        self.server = (server, PORT)
        self.key = key
        self.lease, self.key_lease = lease, key_lease
        self.unix_clock = unix_clock  # a function giving Unix seconds (the SIG's validity)
        self.random = Xorshift32("srp-%s-%s" % (host, seed))
        self.services = []  # (instance, type labels, port, txt)
        self.outgoing = []
        self.outgoing_tcp = []
        self.events = []
        self.sent = {}
        self.next_id = int(self.random.between(0, 0x10000))  # ids a spoofer cannot guess
        self.register_at = None
        self.register_interval = 1.0
        self.register_id = None
        self.registered = False
        self.browsing = {}  # folded type -> [type labels, next query time, interval]
        self.asking = {}  # (folded name, type) -> [name, next time, interval, tries]
        self.pending = {}  # query id -> (name, type)
        self.instances = {}  # folded instance -> instance labels (PTRs answered)
        self.srv = {}  # folded instance -> (port, target labels)
        self.txt = {}
        self.aaaa = {}  # folded host -> [address bytes]
        self.found = {}  # folded instance -> the service event last emitted

    def publish(self, instance, stype, port, txt=()):
        self.services.append((instance, tuple(stype.split(".")), port, tuple(txt)))

    def browse(self, stype, now):
        labels = tuple(stype.split("."))
        self.browsing[key(labels)] = [labels, None, 1.0]  # asked once registered

    def start(self, now):
        self.register_at = now + self.random.between(0.0, START_WAIT_S)

    def stop(self, now):
        """Nothing to say: the registrar forgets the records when their lease ends."""

    # -- sending ----------------------------------------------------------------------------

    def new_id(self):
        self.next_id = (self.next_id + 1) & 0xFFFF
        return self.next_id

    def send(self, kind, data):
        (self.outgoing_tcp if kind == "query-tcp" else self.outgoing).append((data, self.server))
        count = self.sent.setdefault(kind, [0, 0])
        count[0] += 1
        count[1] += len(data)

    def registration(self, msg_id):
        """The UPDATE of RFC 9665 §3.3, unsigned (signed_update() signs it)."""
        host = in_zone(self.host)
        updates = []
        for instance, stype, port, txt in self.services:
            name = (instance,) + in_zone(*stype)
            updates.append(Record(in_zone(*stype), PTR, name, OTHER_TTL))
            updates.append(Record(name, ANY, b"", 0, rclass=ANY))  # delete all RRsets
            updates.append(Record(name, SRV, (0, 0, port, host), HOST_TTL))
            updates.append(Record(name, TXT, tuple(("%s=%s" % kv).encode() for kv in txt),
                                  OTHER_TTL))
        updates.append(Record(host, ANY, b"", 0, rclass=ANY))
        for a in self.addresses:
            updates.append(Record(host, AAAA, a, HOST_TTL))
        updates.append(Record(host, KEY, key_rdata(self.key.public), HOST_TTL))
        return Message(msg_id, UPDATE, questions=[Question(ZONE, SOA)], authority=updates,
                       additional=[edns(self.lease, self.key_lease)])

    def register(self, now):
        self.register_id = self.new_id()
        unix_now = int(self.unix_clock() if self.unix_clock else now)
        self.send("register", signed_update(self.registration(self.register_id),
                                            in_zone(self.host), self.key, unix_now))
        # 1, 2, 4 ... s, each 0-25 % longer at random: nodes whose updates collided at start
        # do not send them again in the same instant
        self.register_at = now + self.register_interval * self.random.between(1.0, 1.25)
        self.register_interval = min(self.register_interval * 2, QUERY_INTERVAL_MAX_S)

    def ask(self, name, rtype, now):
        ident = (key(name), rtype)
        if ident not in self.asking:
            self.asking[ident] = [tuple(name), now + self.random.between(*FIRST_QUERY_S), 1.0, 0]

    def question(self, name, rtype, tcp=False):
        msg_id = self.new_id()
        self.pending[msg_id] = (tuple(name), rtype)
        self.send("query-tcp" if tcp else "query",
                  Message(msg_id, 0, questions=[Question(name, rtype)],
                          additional=[] if tcp else [edns()]).encode())

    # -- timers -----------------------------------------------------------------------------

    def deadline(self):
        times = [self.register_at] if self.register_at is not None else []
        times += [b[1] for b in self.browsing.values() if b[1] is not None]
        times += [a[1] for a in self.asking.values()]
        return min(times) if times else None

    def poll(self, now):
        if self.register_at is not None and now >= self.register_at:
            self.register(now)
        for browse in self.browsing.values():
            if browse[1] is not None and now >= browse[1]:
                self.question(in_zone(*browse[0]), PTR)
                browse[1] = now + browse[2]
                browse[2] = min(browse[2] * 2, QUERY_INTERVAL_MAX_S)
        for ident, asked in list(self.asking.items()):
            if now < asked[1]:
                continue
            if self.known(ident) or asked[3] >= ASK_TRIES:
                del self.asking[ident]
                continue
            self.question(asked[0], ident[1])
            asked[1], asked[2], asked[3] = now + asked[2], asked[2] * 2, asked[3] + 1

    def known(self, ident):
        if ident[1] == SRV:
            return ident[0] in self.srv
        if ident[1] == AAAA:
            return ident[0] in self.aaaa
        return False

    # -- receiving --------------------------------------------------------------------------

    def receive(self, data, source, now):
        try:
            msg = dnsmsg.decode(data)
        except (dnsmsg.DNSError, IndexError) as exc:
            self.events.append({"mdns": "malformed", "source": str(source[0]), "why": str(exc)})
            return
        if not msg.is_response:
            return
        rcode = msg.flags & 0xF
        if msg.id == self.register_id and (msg.flags >> 11) & 0xF == 5:
            self.register_id = None
            if rcode:
                self.register_at = None
                self.events.append({"mdns": "registration-refused",
                                    "rcode": RCODE_NAMES.get(rcode, rcode)})
                return
            self.registered = True
            granted = lease_of(msg)
            # renew at 80 % of the lease granted (RFC 9664 §4), from a fresh retry interval
            self.register_at = now + 0.8 * (granted[0] if granted else self.lease)
            self.register_interval = 1.0
            self.events.append({"mdns": "registered", "lease": granted[0] if granted else None})
            for browse in self.browsing.values():
                if browse[1] is None:
                    browse[1] = now + self.random.between(*FIRST_QUERY_S)
            return
        asked = self.pending.pop(msg.id, None)
        if asked is None:
            return  # an answer to nothing asked (or asked and answered already)
        if msg.flags & dnsmsg.FLAG_TC:  # what came is kept; the whole answer comes over TCP
            self.question(asked[0], asked[1], tcp=True)
        for r in msg.answers + msg.additional:
            self.remember(r)
        self.update_found(now)

    def remember(self, r):
        if r.rtype == PTR and key(r.name[1:]) != key(ZONE) and r.ttl:
            for browse in self.browsing.values():
                if key(r.name) == key(in_zone(*browse[0])):
                    self.instances[key(r.rdata)] = (tuple(r.rdata), browse[0])
        elif r.rtype == SRV:
            self.srv[key(r.name)] = (r.rdata[2], tuple(r.rdata[3]))
        elif r.rtype == TXT:
            self.txt[key(r.name)] = r.rdata
        elif r.rtype == AAAA:
            known = self.aaaa.setdefault(key(r.name), [])
            if bytes(r.rdata) not in known:
                known.append(bytes(r.rdata))

    def update_found(self, now):
        for folded, (instance, stype) in self.instances.items():
            srv = self.srv.get(folded)
            if srv is None:
                self.ask(instance, SRV, now)
                continue
            addresses = self.aaaa.get(key(srv[1]))
            if not addresses:
                self.ask(srv[1], AAAA, now)
                continue
            event = {"mdns": "service", "instance": instance[0], "type": ".".join(stype),
                     "host": dnsmsg.name_text(srv[1]), "port": srv[0],
                     "addresses": sorted(format_address(a) for a in addresses),
                     "txt": txt_strings(self.txt.get(folded, ()))}
            if self.found.get(folded) != event:
                self.found[folded] = event
                self.events.append(dict(event))


def txt_strings(strings):
    import mdns  # a TXT value that is not UTF-8 is kept escaped rather than stopping the node
    return mdns.txt_strings(strings)


def format_address(raw):
    import mdns  # its RFC 5952 formatter (MicroPython has no inet_ntop everywhere)
    return mdns.format_ipv6(raw)
