"""MPL (RFC 7731): the datagrams against scapy's IPv6 and UDP, and the forwarder's rules
(new messages delivered once, Trickle retransmissions, suppression, expiry) on a given clock."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mpl
from prng import Xorshift32

SEED = socket.inet_pton(socket.AF_INET6, "fd00::ff:fe00:5")
GROUP = socket.inet_pton(socket.AF_INET6, "ff05::fb")


@given(st.integers(0, 255), st.binary(max_size=300), st.integers(1, 255))
def test_scapy_reads_the_datagram_and_agrees_on_the_checksum(seq: int, payload: bytes,
                                                             hops: int) -> None:
    data = mpl.packet(SEED, GROUP, seq, 5353, 5353, payload, hop_limit=hops)
    parsed = IPv6(data)
    assert (parsed.src, parsed.dst, parsed.hlim, parsed.nh) == ("fd00::ff:fe00:5", "ff05::fb",
                                                                hops, 0)
    hbh = parsed[IPv6ExtHdrHopByHop]
    assert hbh.len == 0 and hbh.nh == 17  # one 8-octet unit, then UDP
    option, = [o for o in hbh.options if o.otype == mpl.OPTION]
    assert option.optdata == bytes((0, seq))  # S=0 (seed = source), M=V=0, the sequence
    udp = parsed[UDP]
    assert (udp.sport, udp.dport, bytes(udp.payload)) == (5353, 5353, payload)
    ours = udp.chksum
    del udp.chksum  # scapy computes it again over the pseudo-header
    assert IPv6(bytes(parsed))[UDP].chksum == ours
    assert mpl.parse(data) == (SEED, GROUP, seq, hops, 5353, 5353, payload)


def test_a_datagram_without_an_mpl_option_is_not_mpl() -> None:
    plain = bytes(IPv6(src="fd00::1", dst="ff05::fb") / UDP(sport=5353, dport=5353) / b"x")
    padded = bytes(IPv6(src="fd00::1", dst="ff05::fb") / IPv6ExtHdrHopByHop()
                   / UDP(sport=5353, dport=5353) / b"x")
    assert mpl.parse(plain) is None and mpl.parse(padded) is None
    assert mpl.parse(b"\x60" + bytes(20)) is None


def forwarder(address: bytes = b"\xfd" + bytes(15)) -> mpl.Forwarder:
    return mpl.Forwarder(Xorshift32("test"), address)


def test_a_new_message_is_delivered_once_and_sent_again_in_each_interval() -> None:
    """RFC 7731 §5.3/§5.4 with K=1, 3 expirations, Imin=Imax: unheard by others, the message
    goes out once per interval, in its second half, three times, hop limit one lower."""
    f = forwarder()
    data = mpl.packet(SEED, GROUP, 7, 5353, 5353, b"mdns", hop_limit=255)
    assert f.receive(data, 0.0)[6] == b"mdns"
    times, t = [], 0.0
    while t < 1.0:
        f.poll(t)
        if f.outgoing:
            times.append(t)
            assert all(d[7] == 254 and d[8:] == data[8:] for d in f.outgoing)
            f.outgoing = []
        t = round(t + 0.001, 3)
    assert len(times) == 3
    ends = [0.0]
    for at in times:
        interval = max(e for e in ends if e <= at)
        assert interval + mpl.DATA_IMIN / 2 <= at < interval + mpl.DATA_IMIN + 0.0011
        ends.append(interval + mpl.DATA_IMIN)
    assert f.deadline() is None


def test_hearing_the_message_from_a_neighbour_suppresses_this_intervals_copy() -> None:
    f = forwarder()
    data = mpl.packet(SEED, GROUP, 9, 5353, 5353, b"x")
    assert f.receive(data, 0.0) is not None
    assert f.receive(data, 0.01) is None  # a neighbour forwarded it first: not delivered
    # again, and its counter reaches K = 1
    for step in range(64):
        f.poll(step / 1000)
    assert f.outgoing == []


def test_own_messages_are_not_delivered_back_and_hop_limit_one_is_not_forwarded() -> None:
    f = forwarder(SEED)
    f.originate(GROUP, 5353, 5353, b"own", 0.0)
    assert len(f.outgoing) == 1 and mpl.parse(f.outgoing[0])[2] == 1
    assert f.receive(f.outgoing[0], 0.01) is None  # a neighbour's copy of ours
    last = mpl.packet(b"\xfd" + bytes(14) + b"\x09", GROUP, 1, 5353, 5353, b"y", hop_limit=1)
    g = forwarder()
    assert g.receive(last, 0.0) is not None and g.deadline() is None


def test_a_seed_whose_sequence_came_round_is_heard_again() -> None:
    """600 messages of one seed, one a second: the 8-bit sequence wraps twice, and every
    message is delivered (what was seen is forgotten after SEEN_LIFETIME_S)."""
    f = forwarder()
    delivered = 0
    for i in range(600):
        data = mpl.packet(SEED, GROUP, (i + 1) & 0xFF, 5353, 5353, b"m%d" % i)
        delivered += f.receive(data, float(i)) is not None
        f.poll(float(i) + 0.5)
        f.outgoing = []
    assert delivered == 600
