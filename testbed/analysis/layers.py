"""Layers a byte on the air belongs to, and the header sizes that decide it.

What it is: the layer names of the accounting (`Layer`), the PHY constants (IEEE 802.15.4-2006
§6.3: SHR 5 bytes + PHR 1 byte before every PSDU, 32 µs a byte at 2.4 GHz O-QPSK), and the
lengths of 6LoWPAN headers read from their first bytes (RFC 4944 §5.3 FRAG1/FRAGN, RFC 6282
§3.1 IPHC, §4.2 extension header NHC, §4.3 UDP NHC) without rebuilding the IPv6 header. What
it is not: a decoder of those headers (testbed.lowpan is).

Layers: phy (SHR+PHR of every frame), mac (MHR + FCS of non-ACK frames), ack (the whole PSDU
of link-layer ACK frames), lowpan (FRAG headers, IPHC, and IPv6 extension headers and
encapsulated IPv6 headers, NHC-compressed or inline), transport (the TCP header with its
options, the UDP header as carried: the UDP NHC when compressed), icmpv6 (ICMPv6 messages,
their own layer: they are neither transport nor application), app (TCP and UDP payload).

RPL's bytes (RFC 6550) are routing overhead and land where their protocol sits: DIO, DAO and
DAO-ACK are ICMPv6 messages (layer icmpv6, purpose icmpv6-rpl, bucket overhead); the RFC 6553
hop-by-hop option, the RFC 6554 source routing header and the root's IPv6-in-IPv6 (RFC 9008)
are IPv6 headers, so layer lowpan, that of the IPv6 header they extend. They get no layer of
their own: a router adds them to a datagram it does not otherwise change, and they are paid
once a frame like the IPHC. They count for what their datagram serves (a reading's request
or response) as its IPv6 header does.
"""

from __future__ import annotations

from enum import StrEnum

from testbed.errors import FrameError


class Layer(StrEnum):
    PHY = "phy"
    MAC = "mac"
    ACK = "ack"
    LOWPAN = "lowpan"
    TRANSPORT = "transport"
    ICMPV6 = "icmpv6"
    APP = "app"


#: IEEE 802.15.4-2006 §6.3.1-6.3.2: preamble 4 + SFD 1 + PHR 1 byte before every PSDU.
SHR_PHR_BYTES = 6
#: §6.5.2.1 (2450 MHz O-QPSK): 62.5 ksymbol/s, 2 symbols a byte -> 32 µs a byte.
BYTE_S = 32e-6

FRAG1_LENGTH = 4  # RFC 4944 §5.3
FRAGN_LENGTH = 5
DISPATCH_IPV6 = 0x41  # RFC 4944 §5.1
IPV6_HEADER_LENGTH = 40
UDP_HEADER_LENGTH = 8
TCP, UDP, ICMPV6 = 6, 17, 58

_TF_LENGTH = (4, 3, 1, 0)
_UNICAST_LENGTH = (16, 8, 2, 0, 0, 8, 2, 0)
_MULTICAST_LENGTH = (16, 6, 4, 1, 6, -1, -1, -1)
_NHC_UDP_LENGTH = (7, 6, 6, 4)  # NHC byte + ports (4, 3, 3, 1) + checksum 2, RFC 6282 §4.3.3


def airtime(psdu_length: int) -> float:
    """Seconds on air of one PPDU: (SHR + PHR + PSDU) x 32 µs; 127 bytes -> 4.256 ms."""
    return (psdu_length + SHR_PHR_BYTES) * BYTE_S


_shape_cache: dict[int, tuple[int, bool]] = {}


# RFC 6282 §3.1.1
def iphc_shape(b0: int, b1: int, at: int = 0) -> tuple[int, bool]:
    """(IPHC length without any NHC, counting the CID byte; NH compressed?) from its 2 bytes.

    FrameError for a reserved address mode (`at`: where the IPHC starts, for the message).
    """
    key = (b0 << 8) | b1
    shape = _shape_cache.get(key)
    if shape is None:
        length = 2 + (1 if b1 & 0x80 else 0) + _TF_LENGTH[(b0 >> 3) & 3]
        nh = bool(b0 & 4)
        length += (0 if nh else 1) + (0 if b0 & 3 else 1)
        length += _UNICAST_LENGTH[(b1 >> 4) & 7]
        if b1 & 8:
            dst = _MULTICAST_LENGTH[b1 & 7]
        else:
            dst = -1 if (b1 & 4 and not b1 & 3) else _UNICAST_LENGTH[b1 & 7]
        if dst < 0:
            raise FrameError(f"offset {at + 1}: IPHC reserved destination mode {b1 & 7:#x}")
        shape = _shape_cache[key] = (length + dst, nh)
    return shape


# RFC 6282 §4.3.3
def nhc_udp_length(nhc: int) -> int:
    """Bytes of a UDP NHC header (dispatch, ports, checksum) from its first byte."""
    if nhc & 0xF8 != 0xF0 or nhc & 4:
        raise FrameError(f"offset 0: NHC {nhc:#04x} is not a UDP NHC with checksum")
    return _NHC_UDP_LENGTH[nhc & 3]


def lowpan_header_lengths(lowpan: bytes) -> tuple[int, int, int]:
    """(fragment header, IPv6 headers, UDP NHC) byte counts at the start of a 6LoWPAN payload.

    The IPv6 headers are the IPHC (or 0x41 + inline IPv6 header) and every RFC 6282 §4.2 NHC
    behind it: compressed extension headers (RPL's hop-by-hop option and source routing
    header) and an encapsulated IPv6 header (EID 7, its own IPHC), all layer `lowpan`. The UDP
    NHC (§4.3) ends the chain and is transport. A FRAGN has no IPHC (0, 0 after its 5 bytes).
    FrameError for what is not 6LoWPAN.
    """
    if not lowpan:
        raise FrameError("offset 0: empty 6LoWPAN payload")
    dispatch = lowpan[0] & 0xF8
    if dispatch == 0xE0:
        return FRAGN_LENGTH, 0, 0
    frag = FRAG1_LENGTH if dispatch == 0xC0 else 0
    if len(lowpan) < frag + 2:
        raise FrameError(f"offset {len(lowpan)}: 6LoWPAN payload truncated")
    b0 = lowpan[frag]
    if b0 == DISPATCH_IPV6:
        return frag, 1 + IPV6_HEADER_LENGTH, 0
    if b0 & 0xE0 != 0x60:
        raise FrameError(f"offset {frag}: 6LoWPAN dispatch {b0:#04x} not supported")
    length, nh = iphc_shape(b0, lowpan[frag + 1])
    at = frag + length
    n = len(lowpan)
    while nh:  # RFC 6282 §4.1: NHC headers until one says the next header is inline (or UDP)
        if at >= n:
            raise FrameError(f"offset {at}: NHC missing")
        nhc = lowpan[at]
        if nhc & 0xF0 == 0xE0:  # §4.2 extension header
            if nhc & 0x0E == 0x0E:  # EID 7: an encapsulated IPv6 header, as IPHC
                if at + 3 > n or lowpan[at + 1] & 0xE0 != 0x60:
                    raise FrameError(f"offset {at + 1}: IPHC of an encapsulated IPv6 missing")
                length, nh = iphc_shape(lowpan[at + 1], lowpan[at + 2], at + 1)
                at += 1 + length
                continue
            nh = nhc & 1
            at += 1 if nh else 2  # the NHC byte, and the Next Header when inline
            if at >= n:
                raise FrameError(f"offset {at}: NHC extension header Length missing")
            at += 1 + lowpan[at]
            continue
        try:
            return frag, at - frag, nhc_udp_length(nhc)
        except FrameError as exc:
            raise FrameError(f"offset {at}: {str(exc).split(': ', 1)[1]}") from None
    return frag, at - frag, 0
