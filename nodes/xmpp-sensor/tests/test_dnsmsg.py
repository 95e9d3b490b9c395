"""The node's DNS codec: round trips, and both directions checked against scapy's DNS layer."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSRV, bitmap2RRlist, dnstypes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsmsg
from dnsmsg import AAAA, ANY, NSEC, PTR, SRV, TXT, Message, Question, Record

label = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                max_size=20).filter(lambda s: len(s.encode()) <= 63)
utf8_label = st.text(min_size=1, max_size=12).filter(lambda s: 1 <= len(s.encode()) <= 63)
name = st.lists(st.one_of(label, utf8_label), min_size=1, max_size=4).map(
    lambda labels: tuple(labels) + ("local",))
ttl = st.integers(0, 2**32 - 1)


def records() -> st.SearchStrategy[Record]:
    rdata = st.one_of(
        st.tuples(st.just(AAAA), st.binary(min_size=16, max_size=16)),
        st.tuples(st.just(dnsmsg.A), st.binary(min_size=4, max_size=4)),
        st.tuples(st.just(PTR), name),
        st.tuples(st.just(SRV), st.tuples(st.integers(0, 65535), st.integers(0, 65535),
                                          st.integers(0, 65535), name)),
        st.tuples(st.just(TXT), st.lists(st.binary(min_size=1, max_size=255), min_size=1,
                                         max_size=4).map(tuple)),
        st.tuples(st.just(NSEC), st.tuples(name, st.lists(st.integers(1, 255), min_size=1,
                                                          max_size=5, unique=True)
                                           .map(lambda ts: tuple(sorted(ts))))),
    )
    return st.builds(lambda n, td, t, f: Record(n, td[0], td[1], t, f), name, rdata, ttl,
                     st.booleans())


questions = st.builds(Question, name, st.sampled_from([PTR, SRV, TXT, AAAA, ANY]),
                      st.just(dnsmsg.IN), st.booleans())
messages = st.builds(
    Message, st.integers(0, 65535), st.sampled_from([0, dnsmsg.FLAG_QR | dnsmsg.FLAG_AA]),
    st.lists(questions, max_size=3), st.lists(records(), max_size=4),
    st.lists(records(), max_size=2), st.lists(records(), max_size=3))


def same_message(a: Message, b: Message) -> bool:
    return (a.id, a.flags) == (b.id, b.flags) and a.questions == b.questions and all(
        x == y for x, y in zip(a.records(), b.records(), strict=True))


@given(messages)
@settings(max_examples=300)
def test_a_message_survives_encode_and_decode(msg: Message) -> None:
    assert same_message(dnsmsg.decode(msg.encode()), msg)


def wire_name(labels: tuple[str, ...]) -> bytes:
    return b".".join(label.encode() for label in labels) + b"."


@given(messages)
@settings(max_examples=200)
def test_scapy_reads_what_the_node_writes(msg: Message) -> None:
    parsed = DNS(msg.encode())
    assert parsed.id == msg.id and parsed.qr == bool(msg.flags & dnsmsg.FLAG_QR)
    assert [(q.qname, q.qtype, q.unicastresponse) for q in parsed.qd] == [
        (wire_name(q.name), q.qtype, int(q.unicast)) for q in msg.questions]
    theirs = list(parsed.an) + list(parsed.ns) + list(parsed.ar)
    assert len(theirs) == len(msg.records())
    for ours, rr in zip(msg.records(), theirs, strict=True):
        assert (rr.rrname, rr.type, rr.ttl, rr.cacheflush) == (
            wire_name(ours.name), ours.rtype, ours.ttl, int(ours.flush))
        if ours.rtype == SRV:
            assert (rr.priority, rr.weight, rr.port, rr.target) == (
                *ours.rdata[:3], wire_name(ours.rdata[3]))
        elif ours.rtype == AAAA:
            assert rr.rdata == socket.inet_ntop(socket.AF_INET6, ours.rdata)
        elif ours.rtype == dnsmsg.A:
            assert rr.rdata == socket.inet_ntop(socket.AF_INET, ours.rdata)
        elif ours.rtype == PTR:
            assert rr.rdata == wire_name(ours.rdata)
        elif ours.rtype == TXT:
            assert list(rr.rdata) == list(ours.rdata)
        elif ours.rtype == NSEC:
            types = rr.typebitmaps  # scapy gives names, or the raw bitmap in some sections
            if isinstance(types, bytes):
                types = bitmap2RRlist(types)
            assert rr.nextname == wire_name(ours.rdata[0])
            assert [dnstypes.get(t, t) for t in types] == [dnstypes.get(t, t)
                                                            for t in ours.rdata[1]]


def test_the_node_reads_what_scapy_writes() -> None:
    packet = DNS(
        id=0, qr=1, aa=1,
        an=DNSRR(rrname="_presence._tcp.local", type="PTR", ttl=4500,
                 rdata="meter@peer._presence._tcp.local"),
        ar=[DNSRRSRV(rrname="meter@peer._presence._tcp.local", ttl=120, cacheflush=1,
                     port=5562, target="peer.local"),
            DNSRR(rrname="meter@peer._presence._tcp.local", type="TXT", ttl=4500,
                  cacheflush=1, rdata=[b"txtvers=1", b"port.p2pj=5562"]),
            DNSRR(rrname="peer.local", type="AAAA", ttl=120, cacheflush=1, rdata="fe80::1")],
        qd=DNSQR(qname="_presence._tcp.local", qtype="PTR", unicastresponse=1),
    )
    msg = dnsmsg.decode(bytes(packet))
    assert msg.is_response and msg.questions == [
        Question(("_presence", "_tcp", "local"), PTR, unicast=True)]
    ptr, = msg.answers
    assert ptr.rdata == ("meter@peer", "_presence", "_tcp", "local") and ptr.ttl == 4500
    srv, txt, aaaa = msg.additional
    assert srv.rdata == (0, 0, 5562, ("peer", "local")) and srv.flush
    assert txt.rdata == (b"txtvers=1", b"port.p2pj=5562")
    assert aaaa.rdata == b"\xfe\x80" + b"\0" * 13 + b"\1"


def test_names_are_compressed_against_earlier_ones() -> None:
    instance = ("s1@s1", "_presence", "_tcp", "local")
    msg = Message(0, dnsmsg.FLAG_QR, answers=[Record(instance[1:], PTR, instance, 4500),
                                              Record(instance, TXT, (b"txtvers=1",), 4500)])
    data = msg.encode()
    assert data.count(b"_presence") == 1 and data.count(b"s1@s1") == 1
    assert DNS(data).an[1].rrname == b"s1@s1._presence._tcp.local."


def test_a_dot_inside_an_instance_label_stays_one_label() -> None:
    instance = ("Lab meter v1.2", "_presence", "_tcp", "local")
    text = dnsmsg.name_text(instance)
    assert text == "Lab meter v1\\.2._presence._tcp.local"
    assert dnsmsg.name_from_text(text) == instance
    assert dnsmsg.decode(Message(0, 0, [Question(instance, SRV)]).encode()).questions[0].name \
        == instance


@pytest.mark.parametrize(
    ("data", "offset", "what"),
    [
        (b"\0\0\0\0\0\1", 0, "header"),
        (b"\0" * 4 + b"\0\1" + b"\0" * 6 + b"\x05ab", 12, "runs past"),
        (b"\0" * 4 + b"\0\1" + b"\0" * 6 + b"\xc0\x0c\0\x0c\0\1", 12, "not backwards"),
        (b"\0" * 4 + b"\0\1" + b"\0" * 6 + b"\x40abc", 12, "label type"),
        (b"\0" * 6 + b"\0\1" + b"\0" * 4 + b"\0\0\x0c\0\1\0\0\0\1\0\x09\x03abc", 23, "runs past"),
    ],
)
def test_malformed_messages_name_their_byte(data: bytes, offset: int, what: str) -> None:
    with pytest.raises(dnsmsg.DNSError) as caught:
        dnsmsg.decode(data)
    assert caught.value.offset == offset and what in str(caught.value)


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_any_bytes_decode_or_raise_dns_error(data: bytes) -> None:
    try:
        dnsmsg.decode(data)
    except dnsmsg.DNSError as exc:
        assert 0 <= exc.offset <= len(data)


@given(messages, st.data())
@settings(max_examples=200)
def test_a_truncated_message_raises_dns_error(msg: Message, data: st.DataObject) -> None:
    wire = msg.encode()
    cut = data.draw(st.integers(0, len(wire) - 1))
    if msg.questions or msg.records() or cut < 12:
        with pytest.raises(dnsmsg.DNSError):
            dnsmsg.decode(wire[:cut])
