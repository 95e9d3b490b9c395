"""Frames of a capture decoded and put back into IPv6 datagrams, each byte's place known.

What it is: `decode_frames(frames, contexts)` runs the fast codec (testbed.lowpan.mac,
testbed.lowpan.iphc) over every captured PSDU, finds link-layer ACKs and MAC retransmissions
(IEEE 802.15.4-2006 §7.5.6.4: the same frame, same source and sequence number, sent again),
splits each data frame into its header bytes (MHR + FCS, fragment header, IPHC, UDP NHC) and
the datagram bytes it carries inline, and reassembles fragments (RFC 4944 §5.3) per (source,
destination, datagram_size, datagram_tag). Every inline byte is known by its offset in the
UNCOMPRESSED datagram, so the transport analysis can later say which layer and which message
it belongs to. What it is not: the transport or application analysis (account.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from testbed.errors import FrameError
from testbed.lowpan import iphc, mac
from testbed.lowpan.fcs import fcs_ok
from testbed.analysis.layers import (
    DISPATCH_IPV6, FRAGN_LENGTH, IPV6_HEADER_LENGTH,
    lowpan_header_lengths,
)


@dataclass(slots=True, eq=False)
class Datagram:
    """One IPv6 datagram sent over one link hop (fragments reassembled)."""

    src_ll: bytes
    dst_ll: bytes
    size: int
    frames: list[Frame] = field(default_factory=list)
    pieces: dict[int, bytes] = field(default_factory=dict)
    received: int = 0
    packet: bytes | None = None  # the whole uncompressed datagram once complete
    time: float = 0.0  # when it completed
    fragmented: bool = False
    completed_by: Frame | None = None


@dataclass(slots=True, eq=False)
class Frame:
    """One captured frame and the bytes it carries, by layer where the frame alone tells."""

    index: int
    time: float
    length: int  # PSDU bytes
    kind: str  # data | ack | other | undecodable
    seq: int = -1
    src: int | None = None
    mac: int = 0  # MHR + FCS (data and other frames)
    lowpan: int = 0  # FRAG header + IPHC (or 0x41 + inline IPv6 header)
    nhc: int = 0  # UDP NHC bytes: transport, carried compressed
    datagram: Datagram | None = None
    span: tuple[int, int] = (0, 0)  # inline bytes: [start, end) of the uncompressed datagram
    retry_of: Frame | None = None  # a MAC retransmission of this earlier frame
    acked: Frame | None = None  # for an ACK frame: the data frame it acknowledges
    error: str | None = None
    psdu: bytes = b""  # data frames only (MAC retry detection)
    fragment: bool = False  # carries a FRAG1 or FRAGN header


@dataclass(slots=True)
class Decoded:
    frames: list[Frame]
    datagrams: list[Datagram]  # complete ones, in completion order
    incomplete: list[Datagram]
    mac_retries: int

    def release(self) -> None:
        """Drop each datagram's links to its frames (the frames keep theirs to it): then a
        capture's objects go with their last reference, not in a pass of the cyclic
        collector over all of them (2-3 us a frame)."""
        for datagrams in (self.datagrams, self.incomplete):
            for datagram in datagrams:
                datagram.frames = []
                datagram.completed_by = None


def _ll(mode: int, address: int | None) -> bytes:
    return (address or 0).to_bytes(8 if mode == mac.AddrMode.EXTENDED else 2, "big")


#: What the analysis takes from a MAC frame: (frame type, sequence number, source address or
#: None, MHR + FCS bytes, payload, source and destination link-layer address as IPHC reads
#: them: 2 or 8 bytes, most significant first).
MacFields = tuple[int, int, "int | None", int, bytes, bytes, bytes]


def mac_fields(psdu: bytes) -> MacFields:
    """The plain path: `mac.decode` with its FCS check, FrameError naming the offset."""
    d = mac.decode(psdu, check_fcs=True)
    return (d.frame_type, d.seq, d.src, len(psdu) - len(d.payload), d.payload,
            _ll(d.src_mode, d.src), _ll(d.dst_mode, d.dst))


def decompress(inner: bytes, src_ll: bytes, dst_ll: bytes, contexts: Mapping[int, bytes],
               size: int | None, consumed: int, nhc: int) -> tuple[bytes, int]:
    """The plain path: `iphc.decompress` (`consumed`, `nhc`: the lengths layers.py read)."""
    return iphc.decompress(inner, src_ll=src_ll, dst_ll=dst_ll, contexts=contexts,
                           datagram_size=size)


_LIMIT = 1 << 16  # entries a memo keeps; past it a capture of ever-new headers decodes plainly


class HeaderMemo:
    """The fast path: `mac_fields` and `decompress` memoised by the header bytes they read.

    A capture repeats few header shapes: the frame control decides where every MAC field sits
    (IEEE 802.15.4-2006 §7.2.1), a handful of nodes give a handful of address fields, ACKs are
    5 bytes (§7.2.2.3), and an IPHC header (RFC 6282 §3.1) with a UDP NHC (§4.3) differs by its
    checksum only. Every answer is the plain path's, byte for byte; whatever the memo has not
    seen work out (a reserved mode, a short frame, a bad FCS, an error) goes the plain path,
    so errors and their messages are the plain ones too.
    """

    __slots__ = ("shapes", "acks", "iphc")

    def __init__(self) -> None:
        # frame control -> (type, MHR length, {address bytes: (src, src_ll, dst_ll)},
        #                   dst at, dst size, src at, src size), or False: ask mac.decode
        self.shapes: dict[int, tuple | bool] = {}
        self.acks: dict[bytes, MacFields] = {}  # 5-byte PSDU -> its fields
        self.iphc: dict[tuple, bytes] = {}  # (IPHC bytes, lls, size) -> header

    def mac_fields(self, psdu: bytes) -> MacFields:
        n = len(psdu)
        if n == 5:
            fields = self.acks.get(psdu)
            if fields is None:
                fields = mac_fields(psdu)
                if len(self.acks) < _LIMIT:
                    self.acks[psdu] = fields
            return fields
        if n > mac.MAX_PSDU or n < 5:
            return mac_fields(psdu)
        fcf = psdu[0] | psdu[1] << 8
        shape = self.shapes.get(fcf)
        if shape is None:
            shape = self.shapes[fcf] = _mac_shape(fcf)
        if not shape or shape[1] > n - 2 or not fcs_ok(psdu):
            return mac_fields(psdu)
        kind, end, known, dst_at, dst_size, src_at, src_size = shape
        key = psdu[3:end]
        addresses = known.get(key)
        if addresses is None:
            src = psdu[src_at:src_at + src_size]
            addresses = (int.from_bytes(src, "little") if src_size else None,
                         src[::-1] if src_size else b"\0\0",
                         psdu[dst_at:dst_at + dst_size][::-1] if dst_size else b"\0\0")
            if len(known) < _LIMIT:
                known[key] = addresses
        return kind, psdu[2], addresses[0], end + 2, psdu[end:n - 2], addresses[1], addresses[2]

    def decompress(self, inner: bytes, src_ll: bytes, dst_ll: bytes,
                   contexts: Mapping[int, bytes], size: int | None, consumed: int, nhc: int
                   ) -> tuple[bytes, int]:
        # the UDP checksum (the NHC's last 2 bytes) is copied, the rest decides the header;
        # without a datagram size the payload length comes from the frame's length
        cut = consumed - 2 if nhc else consumed
        key = (inner[:cut], src_ll, dst_ll, len(inner) if size is None else size)
        header = self.iphc.get(key)
        if header is not None and len(inner) >= consumed:
            return (header + inner[cut:consumed] if nhc else header), consumed
        header, used = decompress(inner, src_ll, dst_ll, contexts, size, consumed, nhc)
        if used == consumed and len(self.iphc) < _LIMIT:
            self.iphc[key] = header[:-2] if nhc else header
        return header, used


# IEEE 802.15.4-2006 §7.2.1
def _mac_shape(fcf: int) -> tuple | bool:
    """Where a frame's fields sit, from its frame control alone; False where `mac.decode`
    must judge it (reserved type or addressing mode, security, frame version > 1)."""
    kind = fcf & 7
    dst_mode = (fcf >> 10) & 3
    src_mode = (fcf >> 14) & 3
    if kind > 3 or fcf & 8 or (fcf >> 12) & 3 > 1 or dst_mode == 1 or src_mode == 1:
        return False
    pos = 3
    dst_at = dst_size = src_at = src_size = 0
    if dst_mode:
        dst_at, dst_size = pos + 2, _ADDRESS_BYTES[dst_mode]
        pos = dst_at + dst_size
    if src_mode:
        if not (fcf & 0x40 and dst_mode):  # no PAN ID compression: a source PAN ID
            pos += 2
        src_at, src_size = pos, _ADDRESS_BYTES[src_mode]
        pos = src_at + src_size
    return (mac.FrameType(kind), pos, {}, dst_at, dst_size, src_at, src_size)


_ADDRESS_BYTES = (0, 0, 2, 8)


def decode_frames(captured: Iterable[tuple[float, bytes]], contexts: Mapping[int, bytes],
                  *, fast: bool = True) -> Decoded:
    """Decode (time, PSDU) pairs in capture order (see the module docstring); `fast` memoises
    header decoding (HeaderMemo), with the same result as the plain path."""
    memo = HeaderMemo() if fast else None
    read_mac = memo.mac_fields if memo is not None else mac_fields
    inflate = memo.decompress if memo is not None else decompress
    frames: list[Frame] = []
    complete: list[Datagram] = []
    buffers: dict[tuple[bytes, bytes, int, int], Datagram] = {}
    last_of: dict[int, Frame] = {}  # source -> its last data frame (MAC retry detection)
    last_by_seq: dict[int, Frame] = {}  # DSN -> last data frame with it (ACK matching)
    retries = 0
    ack, data = mac.FrameType.ACK, mac.FrameType.DATA
    known_acks = memo.acks if memo is not None else {}  # half the frames: no call for them
    for index, (time, psdu) in enumerate(captured):
        length = len(psdu)
        try:
            kind, seq, src, header, payload, src_ll, dst_ll = (
                known_acks.get(psdu) if length == 5 else None) or read_mac(psdu)
        except FrameError as exc:
            frames.append(Frame(index, time, length, "undecodable", mac=length, error=str(exc)))
            continue
        if kind == ack:
            frames.append(Frame(index, time, length, "ack", seq=seq, acked=last_by_seq.get(seq)))
            continue
        if kind != data or not payload:
            frames.append(Frame(index, time, length, "other", seq=seq, mac=length))
            continue
        frame = Frame(index, time, length, "data", seq=seq, src=src, mac=header, psdu=psdu)
        frames.append(frame)
        last_by_seq[seq] = frame
        key_src = src if src is not None else -1
        previous = last_of.get(key_src)
        last_of[key_src] = frame
        if previous is not None and previous.seq == seq and previous.psdu == psdu:
            frame.retry_of = previous.retry_of or previous
            frame.lowpan, frame.nhc = previous.lowpan, previous.nhc
            frame.datagram, frame.span = previous.datagram, previous.span
            frame.fragment = previous.fragment
            retries += 1
            continue
        try:
            _lowpan(frame, payload, src_ll, dst_ll, contexts, inflate, buffers, complete)
        except FrameError as exc:
            frame.error = str(exc)
            frame.lowpan = len(payload)
    incomplete = list(buffers.values())
    return Decoded(frames, complete, incomplete, retries)



# RFC 4944 §5.1, §5.3; RFC 6282 §3.1
def _lowpan(frame: Frame, payload: bytes, src_ll: bytes, dst_ll: bytes,
            contexts: Mapping[int, bytes], inflate: Callable[..., tuple[bytes, int]],
            buffers: dict[tuple[bytes, bytes, int, int], Datagram], complete: list[Datagram]
            ) -> None:
    frag, head, nhc = lowpan_header_lengths(payload)
    frame.lowpan = frag + head
    frame.nhc = nhc
    dispatch = payload[0] & 0xF8
    if dispatch == 0xE0:  # FRAGN
        size = ((payload[0] & 7) << 8) | payload[1]
        offset = payload[4] << 3
        piece = payload[FRAGN_LENGTH:]
        tag = (payload[2] << 8) | payload[3]
    else:
        size = None
        tag = 0
        if dispatch == 0xC0:
            size = ((payload[0] & 7) << 8) | payload[1]
            tag = (payload[2] << 8) | payload[3]
        inner = payload[frag:]
        if inner[0] == DISPATCH_IPV6:
            header, consumed = inner[1:1 + IPV6_HEADER_LENGTH], 1 + IPV6_HEADER_LENGTH
        else:
            header, consumed = inflate(inner, src_ll, dst_ll, contexts, size, head + nhc, nhc)
        piece = header + inner[consumed:]
        offset = 0
        if size is None:  # unfragmented: complete at once
            datagram = Datagram(src_ll, dst_ll, len(piece), [frame], packet=piece,
                                time=frame.time)
            frame.datagram = datagram
            frame.span = (len(header), len(piece))
            complete.append(datagram)
            return
    frame.fragment = True
    key = (src_ll, dst_ll, size, tag)
    datagram = buffers.get(key)
    if datagram is None:
        datagram = buffers[key] = Datagram(src_ll, dst_ll, size, fragmented=True)
    frame.datagram = datagram
    datagram.frames.append(frame)
    start = offset + (len(piece) - (len(payload) - frag - head - nhc) if offset == 0 else 0)
    frame.span = (start, offset + len(piece))
    if offset in datagram.pieces or offset + len(piece) > size:
        return  # a duplicate or a stray piece: its bytes still count, the datagram does not change
    datagram.pieces[offset] = piece
    datagram.received += len(piece)
    if datagram.received >= size:
        del buffers[key]
        datagram.packet = b"".join(datagram.pieces[o] for o in sorted(datagram.pieces))[:size]
        datagram.time = frame.time
        datagram.completed_by = frame
        datagram.pieces = {}
        complete.append(datagram)
