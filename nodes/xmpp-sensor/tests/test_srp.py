"""The SRP client (srp.py): its registration read by scapy and dnspython (independent
decoders), the SIG(0) checked against RFC 2931's layout built here from scapy's fields, the
key tag against dnspython's RFC 4034 key_id, and its timing on a given clock. The registrar
side, over real sockets: tests/services/test_srp_server.py."""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path

import dns.dnssec
import dns.rdata
from scapy.layers.dns import DNS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import srp

from testbed.services.srp_server import P256Key, verify_p256

ADDRESS = socket.inet_pton(socket.AF_INET6, "fd00::5")


def client(key: P256Key) -> srp.Client:
    c = srp.Client("s1", [ADDRESS], "fd00::1", key, seed=3, unix_clock=lambda: 1_800_000_000)
    c.publish("s1@s1", "_presence._tcp", 5562, [("txtvers", "1"), ("port.p2pj", "5562")])
    c.browse("_presence._tcp", 0.0)
    return c


def first_registration(c: srp.Client) -> bytes:
    c.start(0.0)
    c.poll(1.0)
    ((data, destination),) = c.outgoing
    assert destination == ("fd00::1", 53)
    return data


def test_the_registration_is_rfc_9665s_signed_update() -> None:
    key = P256Key()
    data = first_registration(client(key))
    msg = DNS(data)
    assert msg.opcode == 5 and msg.qr == 0  # RFC 2136 UPDATE
    assert (msg.qd[0].qname, msg.qd[0].qtype) == (b"default.service.arpa.", 6)
    update = [(r.rrname, r.type, r.rclass, r.ttl) for r in msg.ns]
    instance = b"s1@s1._presence._tcp.default.service.arpa."
    host = b"s1.default.service.arpa."
    assert update == [
        (b"_presence._tcp.default.service.arpa.", 12, 1, 4500),  # service discovery
        (instance, 255, 255, 0), (instance, 33, 1, 120), (instance, 16, 1, 4500),  # service
        (host, 255, 255, 0), (host, 28, 1, 120), (host, 25, 1, 120)]  # host description
    assert msg.ns[2].target == host and msg.ns[2].port == 5562
    assert msg.ns[3].rdata == [b"txtvers=1", b"port.p2pj=5562"]
    key_rdata = bytes(msg.ns[6].rdata)
    assert key_rdata == struct.pack(">HBB", 0, 3, 13) + key.public
    opt, sig = msg.ar[0], msg.ar[1]
    assert opt.type == 41 and opt.rclass == 1232  # EDNS(0): the payload the client takes
    (option,) = opt.rdata  # RFC 9664 Update Lease: lease 2 h, key lease 14 days
    assert (option.optcode, option.optdata) == (2, struct.pack(">II", 7200, 14 * 86400))
    # SIG(0), RFC 2931 §3: last, root name, class ANY, TTL 0; it covers its own rdata up to
    # the signature, then the message without it (ARCOUNT one less)
    assert (sig.rrname, sig.type, sig.rclass, sig.ttl) == (b".", 24, 255, 0)
    rdata = bytes(sig.rdata)
    covered, algorithm, labels, original_ttl, expiration, inception, tag = struct.unpack_from(
        ">HBBIIIH", rdata)
    assert (covered, algorithm, labels, original_ttl) == (0, 13, 0, 0)
    assert inception < 1_800_000_000 < expiration
    assert tag == dns.dnssec.key_id(dns.rdata.from_wire(1, 48, key_rdata, 0, len(key_rdata)))
    signer = b"\x02s1\x07default\x07service\x04arpa\x00"
    assert rdata[18:18 + len(signer)] == signer
    sig_at = len(data) - 11 - len(rdata)
    unsigned = bytearray(data[:sig_at])
    struct.pack_into(">H", unsigned, 10, msg.arcount - 1)
    signed = rdata[:18 + len(signer)] + bytes(unsigned)
    assert verify_p256(key.public, signed, rdata[18 + len(signer):])
    tampered = signed[:-1] + bytes([signed[-1] ^ 1])
    assert not verify_p256(key.public, tampered, rdata[18 + len(signer):])


def test_unanswered_it_registers_again_after_1_2_4_s_and_browses_once_acknowledged() -> None:
    c = client(P256Key())
    c.start(0.0)
    t, sent_at = 0.0, []
    while t < 9.0:
        c.poll(t)
        sent_at += [round(t, 2) for _ in c.outgoing]
        c.outgoing = []
        t = round(t + 0.01, 2)
    assert 0.0 <= sent_at[0] <= 0.25
    gaps = [round(b - a, 2) for a, b in zip(sent_at, sent_at[1:])]
    assert len(gaps) == 3
    for gap, base in zip(gaps, [1.0, 2.0, 4.0], strict=True):  # doubling, up to 25 % later
        assert base <= gap <= base * 1.25 + 0.01
    assert c.sent == {"register": [4, c.sent["register"][1]]}  # no query before the ack
    # the registrar's answer: same id, UPDATE, NOERROR, the granted lease
    ack = struct.pack(">HHHHHH", c.register_id, 0x8000 | 5 << 11, 0, 0, 0, 1) + b"\x00" + \
        struct.pack(">HHIHHHII", 41, 1232, 0, 12, 2, 8, 600, 86400)
    c.receive(ack, ("fd00::1", 53), 9.0)
    assert c.events == [{"mdns": "registered", "lease": 600}]
    c.poll(9.2)
    ((query, _),) = c.outgoing
    asked = DNS(query)
    assert (asked.qd[0].qname, asked.qd[0].qtype) == (b"_presence._tcp.default.service.arpa.",
                                                      12)
