"""What the medium reads from and writes to a node's TAP: IPv6 in Ethernet II frames.

What it is: the filter between the kernel and the air (only IPv6 is carried; MLD
is not, like real 6LoWPAN stacks such as Contiki-NG's uIP, which never send it)
and the mapping between Ethernet and IEEE 802.15.4 addresses
(testbed.lowpan.addresses is the one place that knows node addresses). What it is
not: a codec for IPv6 itself.
"""

from __future__ import annotations

from testbed.lowpan.addresses import BROADCAST_SHORT, mac48, short_from_mac48

ETHERTYPE_IPV6 = b"\x86\xdd"
ETHERNET_HEADER = 14
IPV6_HEADER = 40
#: ICMPv6 Multicast Listener Discovery: query, report, done (RFC 2710 §3), MLDv2
#: report (RFC 3810 §5.2).
MLD_TYPES = frozenset({130, 131, 132, 143})
_NEXT_ICMPV6 = 58
_EXTENSION_HEADERS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options

#: Reasons an Ethernet frame from a TAP does not go on the air (stats keys).
NOT_IPV6 = "not-ipv6"
MLD = "mld"
UNKNOWN_MAC = "unknown-mac"
TRUNCATED = "truncated"


def is_mld(packet: bytes) -> bool:
    """True for an ICMPv6 MLD message, found past the extension headers (MLD messages
    carry a hop-by-hop Router Alert option, RFC 2711, so they are rarely right after
    the IPv6 header)."""
    next_header = packet[6]
    pos = IPV6_HEADER
    while next_header in _EXTENSION_HEADERS and pos + 2 <= len(packet):
        next_header = packet[pos]
        pos += (packet[pos + 1] + 1) * 8
    return next_header == _NEXT_ICMPV6 and pos < len(packet) and packet[pos] in MLD_TYPES


def classify(frame: bytes, nodes: dict[int, object]) -> tuple[int, bytes] | str:
    """(destination short address, IPv6 packet) for a frame to put on the air, or the
    reason (a stats key) it is dropped.

    Group MACs (33:33:xx multicast, ff:ff:ff:ff:ff:ff) become link-layer broadcast
    0xffff; a unicast MAC must be a node of the PAN (`nodes`, keyed by short).
    """
    if len(frame) < ETHERNET_HEADER + IPV6_HEADER:
        return TRUNCATED if frame[12:14] == ETHERTYPE_IPV6 else NOT_IPV6
    if frame[12:14] != ETHERTYPE_IPV6:
        return NOT_IPV6
    payload_length = (frame[18] << 8) | frame[19]
    packet = frame[ETHERNET_HEADER:ETHERNET_HEADER + IPV6_HEADER + payload_length]
    if len(packet) < IPV6_HEADER + payload_length:
        return TRUNCATED
    if is_mld(packet):
        return MLD
    if frame[0] & 1:
        return BROADCAST_SHORT, packet
    short = short_from_mac48(frame[:6])
    if short is None or short not in nodes:
        return UNKNOWN_MAC
    return short, packet


def to_ethernet(packet: bytes, receiver: int, sender: int) -> bytes:
    """The Ethernet frame a receiver's kernel gets: to its MAC, or to the IPv6
    multicast MAC 33:33 + the last 32 bits of the destination (RFC 2464 §7)."""
    if packet[24] == 0xFF:
        dst = b"\x33\x33" + packet[36:40]
    else:
        dst = mac48(receiver)
    return dst + mac48(sender) + ETHERTYPE_IPV6 + packet
