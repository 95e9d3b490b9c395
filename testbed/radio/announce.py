"""The border router's announcement of the PAN prefix and its compression context.

What it is: the one Router Advertisement a 6LoWPAN border router (6LBR) sends on the PAN
when the medium starts, carrying a Prefix Information Option and a 6LoWPAN Context Option
(6CO, RFC 6775 §4.2) that binds context 0 to the PAN's /64. Besides being what a real 6LBR
says, it is what lets Wireshark decode context-compressed addresses (RFC 6282 SAC/DAC=1)
with no preference set: its ICMPv6 dissector feeds every 6CO it sees into the 6LoWPAN
dissector's context table for that PAN.

What it is not: neighbour discovery. The nodes' kernels ignore it (forwarding is on and
accept_ra is off); routes and neighbours are installed statically by the backend.
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Network

from testbed.lowpan.addresses import link_local

ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
ICMPV6 = 58
ROUTER_ADVERTISEMENT = 134
OPT_SOURCE_LL = 1
OPT_PREFIX_INFORMATION = 3
OPT_6CO = 34
#: Context and prefix lifetimes: long enough for any run (6CO counts in units of 60 s).
LIFETIME_S = 0xFFFF * 60


def _checksum(src: bytes, dst: bytes, icmp: bytes) -> int:
    """RFC 4443 §2.3: the Internet checksum over the IPv6 pseudo-header and the message."""
    pseudo = src + dst + struct.pack("!I3xB", len(icmp), ICMPV6)
    data = pseudo + icmp + (b"\0" if len(icmp) % 2 else b"")
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def router_advertisement(border_router_short: int, prefix: IPv6Network) -> bytes:
    """The IPv6 packet: RA from the border router's link-local address to ff02::1.

    RFC 4861 §4.2 header with router lifetime 0 (the nodes route statically, so it must
    not become anyone's default router); options: source link-layer address in the
    802.15.4 short form (RFC 4944 §8), PIO with L=0 (RFC 6775: a PAN prefix is not
    on-link) and A=1, and the 6CO for context 0 with C=1 (valid for compression).
    """
    src = link_local(border_router_short).packed
    sllao = struct.pack("!BBH4x", OPT_SOURCE_LL, 1, border_router_short)
    pio = struct.pack(
        "!BBBBII4x16s", OPT_PREFIX_INFORMATION, 4, 64, 0x40, 0xFFFFFFFF, 0xFFFFFFFF,
        prefix.network_address.packed,
    )
    six_co = struct.pack(
        "!BBBBxxH8s", OPT_6CO, 2, prefix.prefixlen, 0x10 | 0, LIFETIME_S // 60,
        prefix.network_address.packed[:8],
    )
    # Cur Hop Limit 0: unspecified (the nodes keep their own); M=O=0; lifetimes 0.
    body = struct.pack("!BBHBBHII", ROUTER_ADVERTISEMENT, 0, 0, 0, 0, 0, 0, 0)
    icmp = body + sllao + pio + six_co
    icmp = icmp[:2] + struct.pack("!H", _checksum(src, ALL_NODES, icmp)) + icmp[4:]
    header = struct.pack("!IHBB", 0x60000000, len(icmp), ICMPV6, 255)
    return header + src + ALL_NODES + icmp
