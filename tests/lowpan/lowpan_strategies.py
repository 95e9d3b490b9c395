"""Hypothesis strategies for IPv6 datagrams as a 6LoWPAN node sends them.

Addresses are drawn so that every IPHC address mode gets exercised: link-local
IIDs derived from the link-layer address, the 0000:00ff:fe00:XXXX form, arbitrary
IIDs, the PAN prefix (context 0), unrelated prefixes, and every multicast form.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

PAN_PREFIX = bytes.fromhex("fd00000000000000")
CONTEXTS = {0: PAN_PREFIX}
LINK_LOCAL = bytes.fromhex("fe80000000000000")


def derived_iid(ll: bytes) -> bytes:
    """RFC 6282 §3.2.2, written out independently of the code under test."""
    if len(ll) == 2:
        return bytes((0, 0, 0, 0xFF, 0xFE, 0)) + ll
    return bytes((ll[0] ^ 2,)) + ll[1:]


short_ll = st.integers(0, 0xFFFD).map(lambda s: s.to_bytes(2, "big"))
extended_ll = st.binary(min_size=8, max_size=8)
link_layer = st.one_of(short_ll, extended_ll)


def unicast(ll: bytes, *, stateless_only: bool = False) -> st.SearchStrategy[bytes]:
    """A unicast address, often one IPHC can shrink given the link-layer address `ll`."""
    iids = st.one_of(
        st.just(derived_iid(ll)),
        st.binary(min_size=2, max_size=2).map(lambda x: bytes((0, 0, 0, 0xFF, 0xFE, 0)) + x),
        st.binary(min_size=8, max_size=8),
    )
    prefixes = [st.just(LINK_LOCAL), st.binary(min_size=8, max_size=8)]
    if not stateless_only:
        prefixes.append(st.just(PAN_PREFIX))
    return st.builds(lambda p, i: p + i, st.one_of(*prefixes), iids).filter(
        lambda a: a[0] != 0xFF
    )


def multicast(*, stateless_only: bool = False) -> st.SearchStrategy[bytes]:
    forms = [
        st.binary(min_size=1, max_size=1).map(lambda x: b"\xff\x02" + bytes(13) + x),
        st.binary(min_size=4, max_size=4).map(lambda x: b"\xff" + x[:1] + bytes(11) + x[1:]),
        st.binary(min_size=6, max_size=6).map(lambda x: b"\xff" + x[:1] + bytes(9) + x[1:]),
        st.binary(min_size=15, max_size=15).map(lambda x: b"\xff" + x),
    ]
    if not stateless_only:  # RFC 3306 unicast-prefix-based, prefix = context 0
        forms.append(
            st.binary(min_size=6, max_size=6).map(
                lambda x: b"\xff" + x[:2] + b"\x40" + PAN_PREFIX + x[2:]
            )
        )
    return st.one_of(*forms)


@st.composite
def upper_layer(draw: st.DrawFn) -> tuple[int, bytes]:
    """(next header, bytes after the IPv6 header): UDP, TCP, ICMPv6 or something else."""
    kind = draw(st.sampled_from(["udp", "tcp", "icmpv6", "other"]))
    data = draw(st.binary(max_size=80))
    if kind == "udp":
        port = st.one_of(
            st.integers(0xF0B0, 0xF0BF), st.integers(0xF000, 0xF0FF), st.integers(0, 0xFFFF)
        )
        sport, dport = draw(port), draw(port)
        checksum = draw(st.integers(0, 0xFFFF))
        return 17, struct.pack(">HHHH", sport, dport, 8 + len(data), checksum) + data
    if kind == "tcp":
        return 6, draw(st.binary(min_size=20, max_size=20)) + data
    if kind == "icmpv6":
        return 58, draw(st.binary(min_size=4, max_size=4)) + data
    return draw(st.integers(0, 255).filter(lambda n: n != 17)), data


@st.composite
def datagrams(
    draw: st.DrawFn, *, src_ll: bytes | None = None, dst_ll: bytes | None = None,
    stateless_only: bool = False, scapy_safe_tc: bool = False,
) -> tuple[bytes, bytes, bytes]:
    """(IPv6 packet, src_ll, dst_ll)."""
    src_ll = src_ll if src_ll is not None else draw(link_layer)
    dst_ll = dst_ll if dst_ll is not None else draw(link_layer)
    src = draw(st.one_of(unicast(src_ll, stateless_only=stateless_only), st.just(bytes(16))))
    dst = draw(st.one_of(
        unicast(dst_ll, stateless_only=stateless_only), multicast(stateless_only=stateless_only)
    ))
    if scapy_safe_tc:
        # scapy 2.8 writes the traffic class byte unrotated (DSCP before ECN); only
        # values whose 2-bit rotation is themselves survive both orders.
        tc = draw(st.sampled_from([0, 0x55, 0xAA, 0xFF]))
    else:
        tc = draw(st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 255)))
    fl = draw(st.one_of(st.just(0), st.integers(0, 0xFFFFF)))
    hop_limit = draw(st.one_of(st.sampled_from([1, 64, 255, 63]), st.integers(0, 255)))
    next_header, upper = draw(upper_layer())
    header = struct.pack(">IHBB", 0x60000000 | tc << 20 | fl, len(upper), next_header, hop_limit)
    return header + src + dst + upper, src_ll, dst_ll


# -- RFC 8200 §4 extension header chains, for RFC 6282 §4.2 NHC ------------------------------

# IANA protocol numbers, written out apart from the code under test
HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, MOBILITY, IPV6, UDP = 0, 43, 44, 60, 135, 41, 17


@st.composite
def extension_header(draw: st.DrawFn, proto: int, follow: int) -> bytes:
    """One extension header (RFC 8200 §4) with Next Header `follow`; option and routing
    contents are random: the codec carries them, it does not read them."""
    if proto == FRAGMENT:
        return bytes((follow, 0)) + draw(st.binary(min_size=6, max_size=6))
    units = draw(st.integers(1, 4))
    return bytes((follow, units - 1)) + draw(st.binary(min_size=8 * units - 2,
                                                       max_size=8 * units - 2))


def ipv6_header(src: bytes, dst: bytes, next_header: int, hop_limit: int = 64) -> bytearray:
    return bytearray(struct.pack(">IHBB", 0x60000000, 0, next_header, hop_limit) + src + dst)


@st.composite
def chained(draw: st.DrawFn, *, tunnels: bool = True, stateless: bool = False
            ) -> tuple[bytes, bytes, bytes, list[int]]:
    """(IPv6 packet, src_ll, dst_ll, protocols in the chain): 0-4 extension headers (and, with
    `tunnels`, encapsulated IPv6 headers) before UDP, ICMPv6 or no next header."""
    src_ll, dst_ll = draw(link_layer), draw(link_layer)
    kinds = [HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, MOBILITY] + ([IPV6] if tunnels else [])
    chain = draw(st.lists(st.sampled_from(kinds), max_size=4))
    upper = draw(st.sampled_from([UDP, 58, 59]))
    protos = [*chain, upper]
    src = draw(unicast(src_ll, stateless_only=stateless))
    dst = draw(unicast(dst_ll, stateless_only=stateless))
    packet = ipv6_header(src, dst, protos[0], draw(st.sampled_from([64, 63, 255])))
    lengths = [(0, IPV6)]
    for proto, follow in zip(protos, protos[1:]):
        if proto == IPV6:  # inner addresses: often those an elided IID gives (outer IIDs)
            inner_src = draw(st.one_of(st.just(src), unicast(src_ll, stateless_only=stateless),
                                       st.just(LINK_LOCAL + src[8:])))
            inner_dst = draw(st.one_of(st.just(dst), st.just(PAN_PREFIX + dst[8:])))
            lengths.append((len(packet), IPV6))
            src, dst = inner_src, inner_dst
            packet += ipv6_header(src, dst, follow)
        else:
            packet += draw(extension_header(proto, follow))
    payload = draw(st.binary(max_size=40))
    if upper == UDP:
        lengths.append((len(packet), UDP))
        packet += struct.pack(">HHHH", draw(st.integers(0, 0xFFFF)), 5683, 0,
                              draw(st.integers(0, 0xFFFF)))
    packet += payload
    for at, kind in lengths:  # lengths as RFC 8200 §3 and RFC 768 define them
        value = len(packet) - at - (40 if kind == IPV6 else 0)
        packet[at + 4:at + 6] = value.to_bytes(2, "big")
    return bytes(packet), src_ll, dst_ll, protos


