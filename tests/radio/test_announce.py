"""The border router's RA: a well-formed RFC 4861 message with the RFC 6775 6CO, checked by scapy."""

from __future__ import annotations

from ipaddress import IPv6Network

from scapy.layers.inet6 import IPv6, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, in6_chksum

from testbed.radio.announce import router_advertisement


def test_ra_carries_prefix_and_context_zero_with_a_correct_checksum() -> None:
    packet = router_advertisement(0x0001, IPv6Network("fd00:abcd::/64"))
    parsed = IPv6(packet)
    assert parsed.src == "fe80::ff:fe00:1" and parsed.dst == "ff02::1" and parsed.hlim == 255
    ra = parsed[ICMPv6ND_RA]
    assert ra.routerlifetime == 0 and ra.chlim == 0
    assert in6_chksum(58, parsed, bytes(ra)) == 0  # the checksum covers pseudo-header + message
    pio = parsed[ICMPv6NDOptPrefixInfo]
    assert (pio.prefix, pio.prefixlen, pio.L, pio.A) == ("fd00:abcd::", 64, 0, 1)
    # 6CO (RFC 6775 §4.2): type 34, length 2, context length 64, C=1 CID=0, prefix
    six_co = packet[-16:]
    assert six_co[:4] == bytes([34, 2, 64, 0x10])
    assert six_co[8:] == bytes.fromhex("fd00abcd00000000")
    assert len(packet) == 40 + 16 + 8 + 32 + 16
