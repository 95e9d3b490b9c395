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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from testbed.errors import FrameError
from testbed.lowpan import iphc, mac
from testbed.analysis.layers import (
    DISPATCH_IPV6, FRAGN_LENGTH, IPV6_HEADER_LENGTH, SHR_PHR_BYTES,
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

    @property
    def on_air(self) -> int:
        """Bytes on air: SHR + PHR + PSDU."""
        return self.length + SHR_PHR_BYTES


@dataclass(slots=True)
class Decoded:
    frames: list[Frame]
    datagrams: list[Datagram]  # complete ones, in completion order
    incomplete: list[Datagram]
    mac_retries: int


def _ll(mode: int, address: int | None) -> bytes:
    return (address or 0).to_bytes(8 if mode == mac.AddrMode.EXTENDED else 2, "big")


def decode_frames(captured: Iterable[tuple[float, bytes]], contexts: Mapping[int, bytes]
                  ) -> Decoded:
    """Decode (time, PSDU) pairs in capture order (see the module docstring)."""
    frames: list[Frame] = []
    complete: list[Datagram] = []
    buffers: dict[tuple[bytes, bytes, int, int], Datagram] = {}
    last_of: dict[int, Frame] = {}  # source -> its last data frame (MAC retry detection)
    last_by_seq: dict[int, Frame] = {}  # DSN -> last data frame with it (ACK matching)
    retries = 0
    for index, (time, psdu) in enumerate(captured):
        try:
            decoded = mac.decode(psdu, check_fcs=True)
        except FrameError as exc:
            frames.append(Frame(index, time, len(psdu), "undecodable", mac=len(psdu),
                                error=str(exc)))
            continue
        if decoded.frame_type == mac.FrameType.ACK:
            frames.append(Frame(index, time, len(psdu), "ack", seq=decoded.seq,
                                acked=last_by_seq.get(decoded.seq)))
            continue
        header = len(psdu) - len(decoded.payload)
        if decoded.frame_type != mac.FrameType.DATA or not decoded.payload:
            frames.append(Frame(index, time, len(psdu), "other", seq=decoded.seq, mac=len(psdu)))
            continue
        frame = Frame(index, time, len(psdu), "data", seq=decoded.seq, src=decoded.src,
                      mac=header, psdu=psdu)
        frames.append(frame)
        last_by_seq[decoded.seq] = frame
        key_src = decoded.src if decoded.src is not None else -1
        previous = last_of.get(key_src)
        last_of[key_src] = frame
        if previous is not None and previous.seq == frame.seq and previous.psdu == psdu:
            frame.retry_of = previous.retry_of or previous
            frame.lowpan, frame.nhc = previous.lowpan, previous.nhc
            frame.datagram, frame.span = previous.datagram, previous.span
            frame.fragment = previous.fragment
            retries += 1
            continue
        try:
            _lowpan(frame, decoded, contexts, buffers, complete)
        except FrameError as exc:
            frame.error = str(exc)
            frame.lowpan = len(decoded.payload)
    incomplete = list(buffers.values())
    return Decoded(frames, complete, incomplete, retries)



# RFC 4944 §5.1, §5.3; RFC 6282 §3.1
def _lowpan(frame: Frame, decoded: mac.MacFrame, contexts: Mapping[int, bytes],
            buffers: dict[tuple[bytes, bytes, int, int], Datagram], complete: list[Datagram]
            ) -> None:
    payload = decoded.payload
    src_ll = _ll(decoded.src_mode, decoded.src)
    dst_ll = _ll(decoded.dst_mode, decoded.dst)
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
            header, consumed = iphc.decompress(inner, src_ll=src_ll, dst_ll=dst_ll,
                                               contexts=contexts, datagram_size=size)
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
