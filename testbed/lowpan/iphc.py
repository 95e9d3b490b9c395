"""6LoWPAN IPv6 header compression: RFC 6282 LOWPAN_IPHC (§3) and LOWPAN_NHC (§4).

What it is: `compress()` turns the IPv6 header (and a UDP header right behind it, and on
request the extension headers and an encapsulated IPv6 header, §4.2) into an IPHC header;
`decompress()` turns any of them back, recomputing the IPv6 payload lengths and the UDP
length from the datagram size. Contiki-NG sends RPL's RFC 6553 hop-by-hop option and
RFC 6554 source routing header this way. What it is not: fragmentation (`frag.py`), MAC
framing (`mac.py`), nor a parser of the options inside extension headers.

Link-layer addresses are given as bytes in the order they are written (2 bytes for
a short address, 8 for an EUI-64): the IID that RFC 6282 §3.2.2 derives from them
is what lets a link-local or context address vanish from the air entirely.
Contexts map a context identifier (0..15) to an 8-byte /64 prefix; context 0 is
the PAN prefix.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from testbed.errors import FrameError

IPV6_HEADER_LENGTH = 40
UDP_HEADER_LENGTH = 8
UDP = 17

#: RFC 6282 §4.2 EID -> IPv6 Next Header value (IANA protocol numbers); 5 and 6 are reserved.
EXTENSION_HEADERS = {0: 0, 1: 43, 2: 44, 3: 60, 4: 135, 7: 41}
EID = {proto: eid for eid, proto in EXTENSION_HEADERS.items()}
IPV6 = 41
FRAGMENT = 44
_PADDED = (0, 60)  # hop-by-hop and destination options: options, so Pad1/PadN may fill them
#: NHC dispatches, RFC 6282 §4.1: 1110xxxx extension header, 11110xxx UDP.
DISPATCH_NHC_EXT = 0xE0
DISPATCH_NHC_UDP = 0xF0
_MAX_NESTING = 4  # IPv6-in-IPv6 inside IPv6-in-IPv6 ...: more is an attack, not a packet

#: The first three bits of an IPHC dispatch, RFC 6282 §3.1: 011.
DISPATCH_IPHC = 0x60
DISPATCH_MASK = 0xE0

_LINK_LOCAL_PREFIX = b"\xfe\x80" + bytes(6)
_SHORT_IID_HEAD = b"\x00\x00\x00\xff\xfe\x00"  # RFC 6282 §3.2.2: 0000:00ff:fe00:XXXX
_UNSPECIFIED = bytes(16)
_ZERO = bytes(16)

_IPV6_HEADER = struct.Struct(">IHBB")
_UDP_HEADER = struct.Struct(">HHHH")
_PORTS = struct.Struct(">HH")

_TF_LENGTH = (4, 3, 1, 0)
_HLIM_VALUE = (None, 1, 64, 255)
_HLIM_CODE = {1: 1, 64: 2, 255: 3}
# Inline source/destination address bytes by (AC << 2 | AM), RFC 6282 §3.1.1.
_UNICAST_LENGTH = (16, 8, 2, 0, 0, 8, 2, 0)
# Inline multicast destination bytes by (DAC << 2 | DAM); -1 = reserved.
_MULTICAST_LENGTH = (16, 6, 4, 1, 6, -1, -1, -1)

_iid_cache: dict[bytes, bytes] = {}


def link_layer_iid(ll: bytes) -> bytes:
    """The IID RFC 6282 §3.2.2 derives from a link-layer address.

    Short address XXXX -> 0000:00ff:fe00:XXXX; EUI-64 -> the EUI-64 with the
    Universal/Local bit (0x02 of the first byte) inverted.
    """
    iid = _iid_cache.get(ll)
    if iid is None:
        if len(ll) == 2:
            iid = _SHORT_IID_HEAD + ll
        elif len(ll) == 8:
            iid = bytes((ll[0] ^ 0x02,)) + ll[1:]
        else:
            raise ValueError(f"link-layer address of {len(ll)} bytes (expected 2 or 8)")
        _iid_cache[ll] = iid
    return iid


def _compress_unicast(
    addr: bytes, derived: bytes, contexts: Mapping[int, bytes]
) -> tuple[int, int, int, bytes]:
    """(AC, AM, context id, inline bytes) for a unicast address, RFC 6282 §3.1.1 SAM/DAM."""
    prefix = addr[:8]
    if prefix == _LINK_LOCAL_PREFIX:
        ac = cid = 0
    else:
        for cid, context in contexts.items():
            if context == prefix:
                ac = 1
                break
        else:
            return 0, 0, 0, addr
    iid = addr[8:]
    if iid == derived:  # the IID the encapsulating header gives (RFC 6282 §3.2.2)
        return ac, 3, cid, b""
    if iid[:6] == _SHORT_IID_HEAD:
        return ac, 2, cid, iid[6:]
    return ac, 1, cid, iid


def _compress_multicast(
    addr: bytes, contexts: Mapping[int, bytes]
) -> tuple[int, int, int, bytes]:
    """(DAC, DAM, context id, inline bytes) for a multicast destination, RFC 6282 §3.1.1."""
    if addr[1] == 0x02 and addr[2:15] == _ZERO[:13]:
        return 0, 3, 0, addr[15:]  # ff02::00XX
    if addr[2:13] == _ZERO[:11]:
        return 0, 2, 0, addr[1:2] + addr[13:]  # ffXX::00XX:XXXX
    if addr[2:11] == _ZERO[:9]:
        return 0, 1, 0, addr[1:2] + addr[11:]  # ffXX::00XX:XXXX:XXXX
    if addr[3] == 64:  # RFC 3306 unicast-prefix-based: ffXX:XX40:PPPP:PPPP:PPPP:PPPP:XXXX:XXXX
        prefix = addr[4:12]
        for cid, context in contexts.items():
            if context == prefix:
                return 1, 0, cid, addr[1:3] + addr[12:]
    return 0, 0, 0, addr


# RFC 6282 §3.1, §4.2, §4.3
def compress(
    packet: bytes, *, src_ll: bytes, dst_ll: bytes, contexts: Mapping[int, bytes],
    extension_nhc: bool = False,
) -> tuple[bytes, int]:
    """Compress the IPv6 header of `packet` and the headers behind it, RFC 6282 §3.1 + §4.

    Returns (IPHC header incl. its NHCs, number of bytes of `packet` it replaces: 40, 48 with
    UDP, more with extension headers). A UDP header right behind is always compressed, its
    checksum carried (C=0, §4.3.2). With `extension_nhc`, extension headers (hop-by-hop,
    routing, fragment, destination options, mobility) and an encapsulated IPv6 header are
    compressed too (§4.2), as Contiki-NG's sicslowpan does (it never elides trailing padding,
    nor does this); without, they stay inline behind NH=0, as the Linux kernel sends them.
    """
    return _compress_at(packet, 0, link_layer_iid(src_ll), link_layer_iid(dst_ll), contexts,
                        extension_nhc, 0)


def _compress_at(
    packet: bytes, o: int, src_iid: bytes, dst_iid: bytes, contexts: Mapping[int, bytes],
    extension_nhc: bool, depth: int,
) -> tuple[bytes, int]:
    """The IPHC of the IPv6 header at `o` and its NHC chain; (bytes, end of what they replace)."""
    if len(packet) < o + IPV6_HEADER_LENGTH or packet[o] >> 4 != 6:
        raise FrameError(
            f"offset {o}: not an IPv6 packet ({len(packet) - o} bytes, "
            f"version {packet[o:o + 1].hex()})"
        )
    word = int.from_bytes(packet[o:o + 4], "big")
    tc = (word >> 20) & 0xFF
    fl = word & 0xFFFFF
    next_header = packet[o + 6]
    hop_limit = packet[o + 7]
    src = packet[o + 8:o + 24]
    dst = packet[o + 24:o + 40]
    # Traffic class and flow label, RFC 6282 §3.1.1 TF; ECN is written before DSCP.
    ecn_dscp = ((tc & 3) << 6) | (tc >> 2)
    if fl == 0:
        if tc == 0:
            tf, inline_tf = 3, b""
        else:
            tf, inline_tf = 2, bytes((ecn_dscp,))
    elif tc >> 2 == 0:
        tf, inline_tf = 1, ((tc & 3) << 22 | fl).to_bytes(3, "big")
    else:
        tf, inline_tf = 0, (ecn_dscp << 24 | fl).to_bytes(4, "big")
    end = o + IPV6_HEADER_LENGTH
    nh = _compressible(packet, end, next_header, extension_nhc, depth)
    hlim = _HLIM_CODE.get(hop_limit, 0)
    # Source address, SAC/SAM.
    if src == _UNSPECIFIED:
        sac, sam, sci, inline_src = 1, 0, 0, b""
    else:
        sac, sam, sci, inline_src = _compress_unicast(src, src_iid, contexts)
    # Destination address, M/DAC/DAM.
    if dst[0] == 0xFF:
        m = 1
        dac, dam, dci, inline_dst = _compress_multicast(dst, contexts)
    else:
        m = 0
        dac, dam, dci, inline_dst = _compress_unicast(dst, dst_iid, contexts)
    cid = 1 if (sci or dci) else 0
    head = bytearray((
        DISPATCH_IPHC | (tf << 3) | (4 if nh else 0) | hlim,
        (cid << 7) | (sac << 6) | (sam << 4) | (m << 3) | (dac << 2) | dam,
    ))
    if cid:
        head.append((sci << 4) | dci)
    head += inline_tf
    if not nh:
        head.append(next_header)
    if not hlim:
        head.append(hop_limit)
    head += inline_src
    head += inline_dst
    if not nh:
        return bytes(head), end
    tail, end = _compress_next(packet, end, next_header, src, dst, contexts, extension_nhc,
                               depth)
    return bytes(head + tail), end


def _compressible(packet: bytes, o: int, next_header: int, extension_nhc: bool,
                  depth: int) -> bool:
    """Whether the header at `o` can be an NHC: UDP always; with `extension_nhc` an extension
    header whose Length fits a byte (§4.2) and a fragment header with its Reserved byte 0
    (Length takes its place), and an IPv6 header nested no deeper than a decoder follows."""
    n = len(packet)
    if next_header == UDP:
        return n >= o + UDP_HEADER_LENGTH
    if not extension_nhc:
        return False
    if next_header == IPV6:
        return depth < _MAX_NESTING and n >= o + IPV6_HEADER_LENGTH and packet[o] >> 4 == 6
    if next_header not in EID or n < o + 2:
        return False
    if next_header == FRAGMENT:
        return n >= o + 8 and packet[o + 1] == 0
    size = (packet[o + 1] + 1) * 8
    return n >= o + size and size - 2 <= 0xFF


# RFC 6282 §4.2, §4.3
def _compress_next(
    packet: bytes, o: int, next_header: int, src: bytes, dst: bytes,
    contexts: Mapping[int, bytes], extension_nhc: bool, depth: int,
) -> tuple[bytes, int]:
    """The NHC of the (compressible) header at `o` and of those behind it; (bytes, end)."""
    if next_header == UDP:
        return _compress_udp(packet, o), o + UDP_HEADER_LENGTH
    if next_header == IPV6:  # EID 7, NH=0, then the inner header's own IPHC
        inner, end = _compress_at(packet, o, src[8:], dst[8:], contexts, extension_nhc,
                                  depth + 1)
        return bytes((DISPATCH_NHC_EXT | 7 << 1,)) + inner, end
    size = 8 if next_header == FRAGMENT else (packet[o + 1] + 1) * 8
    follow = packet[o]
    nh = _compressible(packet, o + size, follow, extension_nhc, depth)
    out = bytearray((DISPATCH_NHC_EXT | EID[next_header] << 1 | nh,))
    if not nh:
        out.append(follow)
    out.append(size - 2)  # §4.2: octets after the Length field (a fragment header: 6)
    out += packet[o + 2:o + size]
    if not nh:
        return bytes(out), o + size
    tail, end = _compress_next(packet, o + size, follow, src, dst, contexts, extension_nhc,
                               depth)
    return bytes(out + tail), end


# RFC 6282 §4.3.3
def _compress_udp(packet: bytes, o: int) -> bytes:
    """UDP NHC: 11110CPP, ports as short as RFC 6282 §4.3.3 allows, checksum inline."""
    src_port, dst_port = _PORTS.unpack_from(packet, o)
    checksum = packet[o + 6:o + 8]
    if src_port & 0xFFF0 == 0xF0B0 and dst_port & 0xFFF0 == 0xF0B0:
        return bytes((0xF3, ((src_port & 0xF) << 4) | (dst_port & 0xF))) + checksum
    if dst_port & 0xFF00 == 0xF000:
        return b"\xf1" + packet[o:o + 2] + packet[o + 3:o + 4] + checksum
    if src_port & 0xFF00 == 0xF000:
        return b"\xf2" + packet[o + 1:o + 2] + packet[o + 2:o + 4] + checksum
    return b"\xf0" + packet[o:o + 4] + checksum


def _context(contexts: Mapping[int, bytes], cid: int, offset: int) -> bytes:
    try:
        return contexts[cid]
    except KeyError:
        raise FrameError(f"offset {offset}: IPHC uses unknown context {cid}") from None


# RFC 6282 §3.1.1, §3.2.2
def _unicast(data: bytes, pos: int, ac: int, am: int, ci: int, contexts: Mapping[int, bytes],
             iid: bytes, start: int) -> bytes:
    """A unicast address, source or destination alike (RFC 6282 §3.1.1 SAM/DAM): stateful
    (AC=1: context prefix) or stateless (link-local), its IID elided (mode 3: `iid`, derived
    from the encapsulating header), 16 bits (mode 2), 64 bits (mode 1) or inline (mode 0)."""
    if ac:
        prefix = _context(contexts, ci, start + 2)
        if am == 3:
            return prefix + iid
        if am == 2:
            return prefix + _SHORT_IID_HEAD + data[pos:pos + 2]
        return prefix + data[pos:pos + 8]
    if am == 3:
        return _LINK_LOCAL_PREFIX + iid
    if am == 2:
        return _LINK_LOCAL_PREFIX + _SHORT_IID_HEAD + data[pos:pos + 2]
    if am == 1:
        return _LINK_LOCAL_PREFIX + data[pos:pos + 8]
    return data[pos:pos + 16]


def decompress(
    data: bytes, *, src_ll: bytes, dst_ll: bytes, contexts: Mapping[int, bytes],
    datagram_size: int | None = None,
) -> tuple[bytes, int]:
    """Rebuild the IPv6 header and the headers compressed behind it (RFC 6282 §4: extension
    headers, an encapsulated IPv6 header, UDP) from an IPHC header at the start of `data`.

    Returns (uncompressed headers, number of bytes of `data` consumed). The IPv6 payload
    length (and UDP length, and an inner IPv6 payload length) come from `datagram_size` when
    the datagram was fragmented (RFC 4944 §5.3), else from what follows the headers in `data`.
    Raises FrameError naming the offset (within `data`) of what is wrong.
    """
    n = len(data)
    if n < 2 or data[0] & DISPATCH_MASK != DISPATCH_IPHC:
        raise FrameError(
            f"offset 0: not an IPHC header (dispatch {data[:1].hex() or 'missing'}, {n} bytes)"
        )
    header = bytearray()
    lengths: list[tuple[int, int]] = []  # (where in `header`, IPV6 or UDP): fields to fill
    pos = _decompress_iphc(data, 0, link_layer_iid(src_ll), link_layer_iid(dst_ll), contexts,
                           header, lengths)
    total = len(header) + n - pos if datagram_size is None else datagram_size
    if total < len(header):
        raise FrameError(
            f"offset 0: datagram_size {datagram_size} is smaller than the "
            f"{len(header)}-byte header it carries"
        )
    for at, kind in lengths:
        if kind == UDP:
            header[at + 4:at + 6] = (total - at).to_bytes(2, "big")
        else:
            length = total - at - IPV6_HEADER_LENGTH
            if length > 0xFFFF:
                raise FrameError(f"offset 0: IPv6 payload length {length} exceeds 65535")
            header[at + 4:at + 6] = length.to_bytes(2, "big")
    return bytes(header), pos


# RFC 6282 §3.1, §3.2
def _decompress_iphc(
    data: bytes, start: int, src_iid: bytes, dst_iid: bytes, contexts: Mapping[int, bytes],
    header: bytearray, lengths: list[tuple[int, int]], depth: int = 0,
) -> int:
    """Append the IPv6 header of the IPHC at `start` (and every NHC behind it) to `header`;
    return the position after them. Elided IIDs come from `src_iid`/`dst_iid`: the link
    layer's for the outer header, the outer IPv6 addresses' for an encapsulated one."""
    n = len(data)
    if start + 2 > n or data[start] & DISPATCH_MASK != DISPATCH_IPHC:
        raise FrameError(
            f"offset {start}: not an IPHC header "
            f"(dispatch {data[start:start + 1].hex() or 'missing'})"
        )
    b0 = data[start]
    b1 = data[start + 1]
    pos = start + 2
    sci = dci = 0
    if b1 & 0x80:
        if n < pos + 1:
            raise FrameError(f"offset {pos}: IPHC truncated: context identifier extension missing")
        sci = data[pos] >> 4
        dci = data[pos] & 0xF
        pos += 1
    tf = (b0 >> 3) & 3
    nh_compressed = b0 & 4
    hlim = b0 & 3
    sac = (b1 >> 6) & 1
    sam = (b1 >> 4) & 3
    m = b1 & 8
    dac = (b1 >> 2) & 1
    dam = b1 & 3
    src_length = _UNICAST_LENGTH[sac << 2 | sam]
    if m:
        dst_length = _MULTICAST_LENGTH[dac << 2 | dam]
        if dst_length < 0:
            raise FrameError(f"offset {start + 1}: reserved multicast DAC=1 DAM={dam}")
    else:
        if dac and not dam:
            raise FrameError(
                f"offset {start + 1}: reserved DAC=1 DAM=00 for a unicast destination")
        dst_length = _UNICAST_LENGTH[dac << 2 | dam]
    need = pos + _TF_LENGTH[tf] + (0 if nh_compressed else 1) + (0 if hlim else 1)
    need += src_length + dst_length
    if n < need:
        raise FrameError(f"offset {n}: IPHC header truncated: needs {need} bytes, has {n}")
    # Traffic class and flow label.
    if tf == 0:
        word = int.from_bytes(data[pos:pos + 4], "big")
        ecn_dscp = word >> 24
        fl = word & 0xFFFFF
        tc = ((ecn_dscp & 0x3F) << 2) | (ecn_dscp >> 6)
        pos += 4
    elif tf == 1:
        word = int.from_bytes(data[pos:pos + 3], "big")
        tc = word >> 22
        fl = word & 0xFFFFF
        pos += 3
    elif tf == 2:
        ecn_dscp = data[pos]
        tc = ((ecn_dscp & 0x3F) << 2) | (ecn_dscp >> 6)
        fl = 0
        pos += 1
    else:
        tc = fl = 0
    if nh_compressed:
        next_header = -1  # the NHC behind the addresses tells
    else:
        next_header = data[pos]
        pos += 1
    if hlim:
        hop_limit = _HLIM_VALUE[hlim]
    else:
        hop_limit = data[pos]
        pos += 1
    # Source address.
    if sac and sam == 0:
        src = _UNSPECIFIED
    else:
        src = _unicast(data, pos, sac, sam, sci, contexts, src_iid, start)
    pos += src_length
    # Destination address.
    if m:
        if dac:
            prefix = _context(contexts, dci, start + 2)
            dst = b"\xff" + data[pos:pos + 2] + b"\x40" + prefix + data[pos + 2:pos + 6]
        elif dam == 3:
            dst = b"\xff\x02" + _ZERO[:13] + data[pos:pos + 1]
        elif dam == 2:
            dst = b"\xff" + data[pos:pos + 1] + _ZERO[:11] + data[pos + 1:pos + 4]
        elif dam == 1:
            dst = b"\xff" + data[pos:pos + 1] + _ZERO[:9] + data[pos + 1:pos + 6]
        else:
            dst = data[pos:pos + 16]
    else:
        dst = _unicast(data, pos, dac, dam, dci, contexts, dst_iid, start)
    pos += dst_length
    at = len(header)
    lengths.append((at, IPV6))
    header += _IPV6_HEADER.pack(0x60000000 | (tc << 20) | fl, 0, max(next_header, 0),
                                hop_limit)
    header += src
    header += dst
    if nh_compressed:
        header[at + 6], pos = _decompress_nhc(data, pos, src, dst, contexts, header, lengths,
                                              depth)
    return pos


# RFC 6282 §4.1, §4.2, §4.3
def _decompress_nhc(
    data: bytes, pos: int, src: bytes, dst: bytes, contexts: Mapping[int, bytes],
    header: bytearray, lengths: list[tuple[int, int]], depth: int,
) -> tuple[int, int]:
    """Append the headers of the NHC chain at `pos` to `header`: (the Next Header value of
    the first, the position after the chain)."""
    n = len(data)
    if pos >= n:
        raise FrameError(f"offset {pos}: IPHC says NH=1 but the NHC header is missing")
    nhc = data[pos]
    if nhc & 0xF0 == DISPATCH_NHC_EXT:
        eid = (nhc >> 1) & 7
        proto = EXTENSION_HEADERS.get(eid)
        if proto is None:
            raise FrameError(f"offset {pos}: NHC {nhc:#04x}: reserved extension header EID {eid}")
        if eid == 7:  # §4.2: the encapsulated IPv6 header follows as an IPHC; NH must be 0
            if nhc & 1:
                raise FrameError(f"offset {pos}: NHC {nhc:#04x}: IPv6 (EID 7) with NH=1")
            if depth >= _MAX_NESTING:
                raise FrameError(f"offset {pos}: IPv6-in-IPv6 nested deeper than {_MAX_NESTING}")
            return IPV6, _decompress_iphc(data, pos + 1, src[8:], dst[8:], contexts, header,
                                          lengths, depth + 1)
        p = pos + 1
        if not nhc & 1:
            if p >= n:
                raise FrameError(f"offset {n}: NHC extension header truncated: Next Header")
            next_header = data[p]
            p += 1
        if p >= n:
            raise FrameError(f"offset {n}: NHC extension header truncated: Length")
        length = data[p]
        p += 1
        if p + length > n:
            raise FrameError(
                f"offset {n}: NHC extension header truncated: Length {length} at {p - 1}")
        body = data[p:p + length]
        p += length
        at = len(header)
        if proto == FRAGMENT:
            if length != 6:  # §4.2: Length counts the octets after it; a fragment header has 6
                raise FrameError(f"offset {p - length - 1}: fragment header Length {length} "
                                 "(RFC 6282 §4.2: 6)")
            header += b"\0\0" + body  # the Reserved byte that Length took the place of is 0
        else:
            size = 2 + length
            padding = -size % 8
            if padding and proto not in _PADDED:
                raise FrameError(
                    f"offset {p - length - 1}: extension header Length {length}: "
                    f"{size} bytes is not a multiple of 8 and only options may be padded")
            header += bytes((0, (size + padding) // 8 - 1)) + body
            if padding == 1:
                header.append(0)  # Pad1, RFC 8200 §4.2
            elif padding:
                header += bytes((1, padding - 2)) + bytes(padding - 2)  # PadN
        if nhc & 1:
            next_header, p = _decompress_nhc(data, p, src, dst, contexts, header, lengths,
                                             depth)
        header[at] = next_header
        return proto, p
    if nhc & 0xF8 != DISPATCH_NHC_UDP:
        raise FrameError(
            f"offset {pos}: NHC {nhc:#04x} not supported (only extension headers 1110xxxx "
            "and UDP 11110xxx, RFC 6282 §4)")
    (ports, checksum), p = _decompress_udp(data, pos)
    lengths.append((len(header), UDP))
    header += _PORTS.pack(*ports) + b"\0\0" + checksum
    return UDP, p


# RFC 6282 §4.3
def _decompress_udp(data: bytes, pos: int) -> tuple[tuple[tuple[int, int], bytes], int]:
    """Ports and checksum from a UDP NHC at `pos`: ((src, dst), checksum), new position."""
    nhc = data[pos]
    if nhc & 4:
        raise FrameError(f"offset {pos}: UDP NHC with elided checksum (C=1) not supported")
    ports = nhc & 3
    length = (6, 5, 5, 3)[ports]  # port bytes + 2 checksum bytes
    if pos + 1 + length > len(data):
        raise FrameError(
            f"offset {len(data)}: UDP NHC truncated: needs {1 + length} bytes from offset {pos}"
        )
    p = pos + 1
    if ports == 0:
        src_port = (data[p] << 8) | data[p + 1]
        dst_port = (data[p + 2] << 8) | data[p + 3]
        p += 4
    elif ports == 1:
        src_port = (data[p] << 8) | data[p + 1]
        dst_port = 0xF000 | data[p + 2]
        p += 3
    elif ports == 2:
        src_port = 0xF000 | data[p]
        dst_port = (data[p + 1] << 8) | data[p + 2]
        p += 3
    else:
        src_port = 0xF0B0 | (data[p] >> 4)
        dst_port = 0xF0B0 | (data[p] & 0xF)
        p += 1
    return ((src_port, dst_port), data[p:p + 2]), p + 2
