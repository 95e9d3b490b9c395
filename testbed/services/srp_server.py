"""An SRP registrar (RFC 9665) on the border router: signed registrations in, unicast DNS-SD out.

mDNS reaches one hop; a node registers its host and service here instead, in one DNS UPDATE
signed with SIG(0) (RFC 2931, ECDSA P-256/SHA-256) by the key it publishes in the same
update, and any node finds the registered services by asking ordinary unicast DNS questions
under "default.service.arpa." (the client: nodes/xmpp-sensor/srp.py).

What it checks, per RFC 9665 §3.3: one zone question for default.service.arpa SOA; a host
description (delete-all, AAAA, one KEY) and for each service a description (delete-all, SRV
naming that host, TXT) and a discovery PTR; the SIG(0) is the last record, covers the message
as RFC 2931 §3.1 says and verifies with the update's KEY; names are first come, first served:
a host or instance held by another key is refused (YXDOMAIN) until its key lease ends. The
SIG's validity times are not checked: a node may not know the time (RFC 9665 §3.2.3 lets the
registrar skip it). Leases: the Update Lease option (RFC 9664), held to 30 s .. 24 h; a
registration without one gets the default. Answers: PTR questions list the live instances of a
type, with their SRV, TXT and AAAA in the additional section while the client's EDNS payload
size allows (RFC 6763 §12); an answer that does not fit sets TC, and the whole answer comes
over TCP on the same port (RFC 7766: a 2-byte length before each message). TTLs are the
records' own, at most what is left of the lease.

`python -m testbed.services.srp_server CONFIG.json` ({"port": 53}) prints READY once it
listens; `SrpServer` runs it in a namespace. `P256Key` is the key the emulated nodes sign with.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.services.process import ServiceProcess, say, stop_on_signals

DNS_PORT = 53
ZONE = "default.service.arpa."
SIG, KEY, OPT, SOA, ANY = 24, 25, 41, 6, 255
UPDATE_LEASE_OPTION = 2
ECDSAP256SHA256 = 13
LEASE_LIMITS_S = (30, 86400)
DEFAULT_LEASE_S = 7200
DEFAULT_KEY_LEASE_S = 14 * 86400
SIGNATURE_LEN = 64
RCODE = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "REFUSED": 5, "YXDOMAIN": 6,
         "NOTZONE": 10}


class P256Key:
    """An ECDSA P-256 key as SRP uses it: `public` is x then y (64 bytes, RFC 6605 §4),
    `sign(data)` gives r then s (64 bytes) over SHA-256."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.private = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private.public_key().public_numbers()
        self.public = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_p256(public: bytes, data: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if len(public) != 64 or len(signature) != SIGNATURE_LEN:
        return False
    try:
        key = ec.EllipticCurvePublicNumbers(int.from_bytes(public[:32], "big"),
                                            int.from_bytes(public[32:], "big"),
                                            ec.SECP256R1()).public_key()
        key.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                        int.from_bytes(signature[32:], "big")),
                   data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


class Refused(Exception):
    """A registration refused: the rcode and why (for the log)."""

    def __init__(self, rcode: str, why: str) -> None:
        super().__init__(why)
        self.rcode = rcode


def last_record_at(wire: bytes) -> int:
    """Where the message's last record starts (the SIG(0) is last, RFC 2931 §3)."""
    def skip_name(at: int) -> int:
        while True:
            if at >= len(wire):
                raise Refused("FORMERR", "a name runs past the message")
            length = wire[at]
            if length & 0xC0 == 0xC0:
                return at + 2
            if length == 0:
                return at + 1
            at += 1 + length

    if len(wire) < 12:
        raise Refused("FORMERR", "shorter than a header")
    qd, an, ns, ar = struct.unpack_from(">HHHH", wire, 4)
    at = 12
    for _ in range(qd):
        at = skip_name(at) + 4
    last = at
    for _ in range(an + ns + ar):
        last = at
        at = skip_name(at)
        if at + 10 > len(wire):
            raise Refused("FORMERR", "a record runs past the message")
        at += 10 + struct.unpack_from(">H", wire, at + 8)[0]
    if at != len(wire) or an + ns + ar == 0:
        raise Refused("FORMERR", "bytes after the last record" if at != len(wire)
                      else "no records")
    return last


def unsigned_part(wire: bytes) -> tuple[bytes, bytes]:
    """(the message without its trailing SIG(0), with ARCOUNT one less; the SIG's rdata).
    dnspython cannot read a SIG of class ANY in an UPDATE (it takes it for a deletion)."""
    start = last_record_at(wire)
    rtype, _rclass, _ttl, rdlen = struct.unpack_from(">HHIH", wire, start + 1)
    if wire[start] != 0 or rtype != SIG:
        raise Refused("REFUSED", "the last record is not a SIG(0)")
    arcount = struct.unpack_from(">H", wire, 10)[0]
    if arcount < 1:
        raise Refused("FORMERR", "the SIG(0) is not in the additional section")
    unsigned = bytearray(wire[:start])
    struct.pack_into(">H", unsigned, 10, arcount - 1)
    return bytes(unsigned), wire[start + 11:start + 11 + rdlen]


def check_sig0(unsigned: bytes, sig_rdata: bytes, key_rdata: bytes) -> str:
    """Verify the SIG(0) (RFC 2931 §3.1: it covers its own rdata before the signature, then
    the message without it) with the KEY; the signer's name (lower case, dotted)."""
    import dns.exception
    import dns.name

    if len(sig_rdata) < 19 + SIGNATURE_LEN:
        raise Refused("FORMERR", "SIG(0) data too short")
    covered, algorithm = struct.unpack_from(">HB", sig_rdata, 0)
    if covered != 0 or algorithm != ECDSAP256SHA256:
        raise Refused("REFUSED", f"SIG(0) covers type {covered} with algorithm {algorithm}")
    try:
        signer, used = dns.name.from_wire(sig_rdata, 18)
    except dns.exception.DNSException as exc:
        raise Refused("FORMERR", f"SIG(0) signer: {exc}") from exc
    prefix, signature = sig_rdata[:18 + used], sig_rdata[18 + used:]
    if key_rdata[2:4] != bytes((3, ECDSAP256SHA256)):
        raise Refused("REFUSED", "the KEY is not an ECDSA P-256 DNSSEC key")
    if not verify_p256(key_rdata[4:], prefix + unsigned, signature):
        raise Refused("REFUSED", "the SIG(0) does not verify with the update's KEY")
    return signer.to_text().lower()


@dataclass
class Host:
    key: bytes  # KEY rdata
    addresses: list[str]
    expires: float
    key_expires: float


@dataclass
class Instance:
    name: str
    service_type: str
    host: str
    port: int
    txt: bytes  # TXT rdata
    expires: float
    ptr_ttl: int = 4500
    srv_ttl: int = 120


@dataclass
class Registry:
    hosts: dict[str, Host] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    registered: int = 0
    refused: int = 0
    answered: int = 0

    # -- registrations ---------------------------------------------------------------------

    def register(self, wire: bytes, now: float) -> tuple[int, int]:
        """Apply one signed registration; (lease, key lease) granted, or Refused."""
        import dns.exception
        import dns.message
        import dns.opcode
        import dns.rdatatype

        unsigned, sig_rdata = unsigned_part(wire)
        try:
            msg = dns.message.from_wire(unsigned)
        except dns.exception.DNSException as exc:
            raise Refused("FORMERR", f"not a DNS message: {exc}") from exc
        if msg.opcode() != dns.opcode.UPDATE:
            raise Refused("REFUSED", "not an UPDATE")
        zone = msg.sections[0]
        if len(zone) != 1 or zone[0].name.to_text().lower() != ZONE or zone[0].rdtype != SOA:
            raise Refused("NOTZONE", f"zone is not {ZONE} SOA")
        keys = [(rrset.name.to_text().lower(), rd.to_wire())
                for rrset in msg.sections[2] if rrset.rdtype == KEY for rd in rrset]
        if len(keys) != 1:
            raise Refused("FORMERR", f"{len(keys)} KEY records: a host description has one")
        host, key = keys[0]
        signer = check_sig0(unsigned, sig_rdata, key)
        if signer != host:
            raise Refused("REFUSED", f"signed by {signer}, the KEY is {host}'s")
        self.expire(now)
        held = self.hosts.get(host)
        if held is not None and held.key != key:
            raise Refused("YXDOMAIN", f"{host} is held by another key")
        addresses: list[str] = []
        services: dict[str, dict[str, Any]] = {}
        for rrset in msg.sections[2]:
            name = rrset.name.to_text().lower()
            if rrset.rdtype == dns.rdatatype.AAAA and name == host:
                addresses += [rd.address for rd in rrset]
            elif rrset.rdtype == dns.rdatatype.PTR:
                for rd in rrset:
                    services.setdefault(rd.target.to_text().lower(), {})["type"] = name
                    services[rd.target.to_text().lower()]["ptr_ttl"] = rrset.ttl
            elif rrset.rdtype == dns.rdatatype.SRV:
                for rd in rrset:
                    if rd.target.to_text().lower() != host:
                        raise Refused("REFUSED", f"{name}'s SRV names {rd.target}, not {host}")
                    services.setdefault(name, {}).update(port=rd.port, srv_ttl=rrset.ttl)
            elif rrset.rdtype == dns.rdatatype.TXT:
                services.setdefault(name, {})["txt"] = b"".join(rd.to_wire() for rd in rrset)
        if not addresses:
            raise Refused("FORMERR", f"{host}: no AAAA record")
        for name, s in services.items():
            if not {"type", "port"} <= set(s):
                raise Refused("FORMERR", f"{name}: a service needs its PTR and its SRV")
            other = self.instances.get(name)
            if other is not None and other.host != host:
                raise Refused("YXDOMAIN", f"{name} is held by {other.host}")
        lease, key_lease = lease_option(msg)
        lease = min(max(lease, LEASE_LIMITS_S[0]), LEASE_LIMITS_S[1])
        key_lease = min(max(key_lease, lease), DEFAULT_KEY_LEASE_S)
        self.hosts[host] = Host(key, addresses, now + lease, now + key_lease)
        for name in [n for n, i in self.instances.items() if i.host == host]:
            del self.instances[name]  # the update replaces what the host had
        for name, s in services.items():
            self.instances[name] = Instance(name, s["type"], host, s["port"],
                                            s.get("txt", b"\0"), now + lease,
                                            s.get("ptr_ttl", 4500), s.get("srv_ttl", 120))
        self.registered += 1
        return lease, key_lease

    def expire(self, now: float) -> None:
        for name in [n for n, i in self.instances.items() if i.expires <= now]:
            del self.instances[name]
        for name in [n for n, h in self.hosts.items() if h.key_expires <= now]:
            del self.hosts[name]

    # -- questions -------------------------------------------------------------------------

    def respond(self, query: Any, now: float, limit: int | None = None) -> Any:
        """The answer; `limit`: its largest size (UDP: the asker's EDNS size, at least 512)."""
        import dns.exception
        import dns.flags
        import dns.message

        self.expire(now)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if limit is None:
            limit = max(512, query.payload if query.edns >= 0 else 512)
        records: list[tuple[str, str, int, Any]] = []  # (section, name, ttl, rdata)
        for question in query.question:
            records += self.answers(question.name.to_text().lower(), question.rdtype, now)
        size = len(response.to_wire())
        for section, name, ttl, rdata in records:
            target = response.answer if section == "answer" else response.additional
            rrset = response.find_rrset(target, dns_name(name), 1, rdata.rdtype, create=True)
            if rdata in rrset:
                continue
            grown = size + len(name) + 12 + len(rdata.to_wire())  # as if nothing compressed:
            rrset.add(rdata, ttl)  # an upper bound; past the limit, the real size decides
            if grown > limit:
                try:
                    grown = len(response.to_wire(max_size=limit))
                except dns.exception.TooBig:
                    rrset.discard(rdata)
                    if not rrset:
                        target.remove(rrset)
                    if section == "answer":
                        response.flags |= dns.flags.TC
                    continue
            size = grown
        self.answered += 1
        return response

    def answers(self, name: str, rtype: int, now: float) -> list[tuple[str, str, int, Any]]:
        out: list[tuple[str, str, int, Any]] = []
        live = list(self.instances.values())
        if rtype in (12, ANY):
            for i in (x for x in live if x.service_type == name):
                out.append(("answer", name, self.ttl(i.ptr_ttl, i.expires, now), rd_ptr(i.name)))
            for i in (x for x in live if x.service_type == name):
                out += [("additional", *r) for r in self.instance_records(i, now)]
        if rtype in (33, 16, ANY) and name in self.instances:
            i = self.instances[name]
            own = self.instance_records(i, now)
            out += [("answer", *r) for r in own if r[2].rdtype == rtype or rtype == ANY
                    and r[0] == name]
            out += [("additional", *r) for r in own if r[0] != name]
        if rtype in (28, ANY) and name in self.hosts and self.hosts[name].expires > now:
            h = self.hosts[name]
            out += [("answer", name, self.ttl(120, h.expires, now), rd_aaaa(a))
                    for a in h.addresses]
        return out

    def instance_records(self, i: Instance, now: float) -> list[tuple[str, int, Any]]:
        h = self.hosts.get(i.host)
        out = [(i.name, self.ttl(i.srv_ttl, i.expires, now), rd_srv(i.port, i.host)),
               (i.name, self.ttl(4500, i.expires, now), rd_txt(i.txt))]
        if h is not None and h.expires > now:
            out += [(i.host, self.ttl(120, h.expires, now), rd_aaaa(a)) for a in h.addresses]
        return out

    @staticmethod
    def ttl(own: int, expires: float, now: float) -> int:
        return max(0, min(own, int(expires - now)))


def lease_option(msg: Any) -> tuple[int, int]:
    for option in msg.options:
        if option.otype == UPDATE_LEASE_OPTION:
            data = option.to_wire()
            if len(data) == 8:
                return struct.unpack(">II", data)
            if len(data) == 4:
                lease = struct.unpack(">I", data)[0]
                return lease, lease
    return DEFAULT_LEASE_S, DEFAULT_KEY_LEASE_S


def dns_name(text: str) -> Any:
    import dns.name

    return dns.name.from_text(text)


def rd_ptr(target: str) -> Any:
    import dns.rdata

    return dns.rdata.from_text(1, 12, target)


def rd_srv(port: int, target: str) -> Any:
    import dns.rdata

    return dns.rdata.from_text(1, 33, f"0 0 {port} {target}")


def rd_txt(wire: bytes) -> Any:
    import dns.rdata

    return dns.rdata.from_wire(1, 16, wire, 0, len(wire))


def rd_aaaa(address: str) -> Any:
    import dns.rdata

    return dns.rdata.from_text(1, 28, address)


def update_response(request: bytes, rcode: int, lease: tuple[int, int] | None) -> bytes:
    """The answer to an UPDATE: its id, opcode and rcode; when granted, an OPT record with
    the Update Lease option (RFC 9664 §4) saying what lease was given."""
    msg_id = struct.unpack_from(">H", request, 0)[0]
    flags = 0x8000 | (request[2] & 0x78) << 8 | rcode
    if lease is None:
        return struct.pack(">HHHHHH", msg_id, flags, 0, 0, 0, 0)
    option = struct.pack(">HHII", UPDATE_LEASE_OPTION, 8, *lease)
    return (struct.pack(">HHHHHH", msg_id, flags, 0, 0, 0, 1)
            + b"\x00" + struct.pack(">HHIH", OPT, 1232, 0, len(option)) + option)


def handle(registry: Registry, data: bytes, now: float, tcp: bool = False) -> bytes | None:
    """One message in (a datagram, or one over TCP), the answer out (None: none)."""
    import dns.exception
    import dns.message

    if len(data) < 12 or data[2] & 0x80:
        return None  # not a question or update (a response, or too short to answer)
    if (data[2] >> 3) & 0xF == 5:  # UPDATE
        try:
            lease = registry.register(data, now)
        except Refused as refused:
            registry.refused += 1
            logging.info("registration refused (%s): %s", refused.rcode, refused)
            return update_response(data, RCODE.get(refused.rcode, 5), None)
        logging.info("registered: %d hosts, %d instances", len(registry.hosts),
                     len(registry.instances))
        return update_response(data, 0, lease)
    try:
        msg = dns.message.from_wire(data)
    except dns.exception.DNSException as exc:
        logging.warning("malformed message: %s", exc)
        return None
    return registry.respond(msg, now, limit=65535 if tcp else None).to_wire()


async def serve_tcp(registry: Registry, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
    """RFC 7766: messages with a 2-byte length, as many as the client sends."""
    try:
        while True:
            length = struct.unpack(">H", await reader.readexactly(2))[0]
            reply = handle(registry, await reader.readexactly(length), time.monotonic(),
                           tcp=True)
            if reply is not None:
                writer.write(struct.pack(">H", len(reply)) + reply)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


class Server(asyncio.DatagramProtocol):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        reply = handle(self.registry, data, time.monotonic())
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def run(config: dict[str, Any]) -> None:
    stop = stop_on_signals()
    registry = Registry()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::", int(config.get("port", DNS_PORT))))
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Server(registry), sock=sock)
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::", sock.getsockname()[1]))
    tcp = await asyncio.start_server(lambda r, w: serve_tcp(registry, r, w), sock=listener)
    say("READY")
    await stop.wait()
    transport.close()
    tcp.close()
    say(f"registered {registry.registered}, refused {registry.refused}, "
        f"answered {registry.answered}")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(json.loads(Path(argv[1]).read_text())))
    return 0


class SrpServer(ServiceProcess):
    """The registrar in the border router's namespace (READY once it listens)."""

    module = "srp_server"
    what = "SRP registrar"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
