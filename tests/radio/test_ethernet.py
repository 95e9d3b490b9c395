"""Which Ethernet frames from a TAP go on the air, and how packets come back out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6MLQuery,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NS,
    IPv6,
    IPv6ExtHdrHopByHop,
    RouterAlert,
)
from scapy.layers.l2 import ARP, Ether

from testbed.lowpan.addresses import BROADCAST_SHORT, mac48, mac48_text
from testbed.radio.ethernet import MLD, NOT_IPV6, UNKNOWN_MAC, classify, is_mld, to_ethernet

NODES = {1: None, 2: None}


def frame(dst_mac: str, packet) -> bytes:
    return bytes(Ether(src=mac48_text(1), dst=dst_mac) / packet)


def test_unicast_ipv6_to_a_node() -> None:
    packet = IPv6(src="fe80::ff:fe00:1", dst="fe80::ff:fe00:2") / ICMPv6EchoRequest()
    assert classify(frame(mac48_text(2), packet), NODES) == (2, bytes(packet))


def test_multicast_becomes_broadcast() -> None:
    packet = IPv6(src="fe80::ff:fe00:1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fe80::ff:fe00:2")
    assert classify(frame("33:33:ff:00:00:02", packet), NODES) == (BROADCAST_SHORT, bytes(packet))


def test_mld_is_dropped_even_behind_hop_by_hop() -> None:
    hbh = IPv6ExtHdrHopByHop(options=[RouterAlert()])
    for message in (ICMPv6MLReport2(), ICMPv6MLReport(), ICMPv6MLQuery()):
        packet = IPv6(src="fe80::ff:fe00:1", dst="ff02::16") / hbh / message
        assert is_mld(bytes(packet))
        assert classify(frame("33:33:00:00:00:16", packet), NODES) == MLD
    assert not is_mld(bytes(IPv6() / ICMPv6EchoRequest()))


def test_other_ethertypes_and_strangers_are_dropped() -> None:
    assert classify(bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP()), NODES) == NOT_IPV6
    packet = IPv6(dst="fe80::1") / ICMPv6EchoRequest()
    assert classify(frame("02:00:00:00:00:09", packet), NODES) == UNKNOWN_MAC
    assert classify(frame("52:54:00:12:34:56", packet), NODES) == UNKNOWN_MAC


def test_to_ethernet_addresses() -> None:
    unicast = bytes(IPv6(src="fe80::ff:fe00:1", dst="fe80::ff:fe00:2") / ICMPv6EchoRequest())
    out = Ether(to_ethernet(unicast, 2, 1))
    assert (out.dst, out.src, out.type) == (mac48_text(2), mac48_text(1), 0x86DD)
    assert bytes(out.payload) == unicast
    group = bytes(IPv6(dst="ff02::1:ff00:2") / ICMPv6EchoRequest())
    assert to_ethernet(group, 2, 1)[:6] == b"\x33\x33\xff\x00\x00\x02"
    assert to_ethernet(group, 2, 1)[6:12] == mac48(1)


@given(st.binary(max_size=200))
def test_classify_never_raises_on_garbage(frame: bytes) -> None:
    result = classify(frame, NODES)
    assert isinstance(result, str) or (result[0] in (1, 2, BROADCAST_SHORT))


@given(st.binary(min_size=40, max_size=120), st.sampled_from([0, 43, 58, 60]))
def test_is_mld_never_raises(packet: bytes, next_header: int) -> None:
    is_mld(packet[:6] + bytes([next_header]) + packet[7:])
