"""6LoWPAN fragmentation and reassembly, RFC 4944 §5.3 (with RFC 6282 IPHC inside).

What it is: `fragment()` cuts one IPv6 datagram into 6LoWPAN payloads, one per
MAC frame; `Reassembler` puts received payloads back together per
(source, destination, size, tag) and hands out whole IPv6 packets. What it is
not: the MAC (`mac.py`) nor the choice of tags (the sender's job).

Offsets count 8-byte units of the UNCOMPRESSED datagram (RFC 4944 §5.3): the
first fragment carries the IPHC header plus as much payload as keeps the
uncompressed length it stands for a multiple of 8, every later fragment a
multiple of 8 bytes except the last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from testbed.errors import FrameError
from testbed.lowpan.iphc import compress, decompress

FRAG1_LENGTH = 4
FRAGN_LENGTH = 5
DISPATCH_FRAG1 = 0xC0  # 11000xxx
DISPATCH_FRAGN = 0xE0  # 11100xxx
DISPATCH_IPV6 = 0x41  # uncompressed IPv6, RFC 4944 §5.1
MAX_DATAGRAM_SIZE = 2047  # 11-bit datagram_size
REASSEMBLY_TIMEOUT_S = 60.0  # RFC 4944 §5.3


# RFC 4944 §5.3
def fragment(
    packet: bytes, *, src_ll: bytes, dst_ll: bytes, contexts: Mapping[int, bytes],
    tag: int, max_payload: int,
) -> list[bytes]:
    """6LoWPAN payloads for one IPv6 datagram, each at most `max_payload` bytes.

    One IPHC payload when the compressed datagram fits, else FRAG1 + FRAGN...
    (RFC 4944 §5.3) with the IPHC header in the first fragment.
    """
    header, consumed = compress(packet, src_ll=src_ll, dst_ll=dst_ll, contexts=contexts)
    size = len(packet)
    if len(header) + size - consumed <= max_payload:
        return [header + packet[consumed:]]
    if size > MAX_DATAGRAM_SIZE:
        raise ValueError(f"datagram of {size} bytes exceeds the 11-bit datagram_size (2047)")
    # First fragment: uncompressed coverage (consumed + n) must be a multiple of 8.
    first = ((max_payload - FRAG1_LENGTH - len(header) + consumed) // 8) * 8 - consumed
    if first < 0:
        raise ValueError(
            f"max_payload {max_payload} leaves no room for the {len(header)}-byte IPHC header "
            "in a first fragment"
        )
    s0 = DISPATCH_FRAG1 | (size >> 8)
    s1 = size & 0xFF
    t0 = (tag >> 8) & 0xFF
    t1 = tag & 0xFF
    offset = consumed + first
    payloads = [bytes((s0, s1, t0, t1)) + header + packet[consumed:offset]]
    step = ((max_payload - FRAGN_LENGTH) // 8) * 8
    n0 = DISPATCH_FRAGN | (size >> 8)
    while offset < size:
        payloads.append(bytes((n0, s1, t0, t1, offset >> 3)) + packet[offset:offset + step])
        offset += step
    return payloads


def _shifted(error: FrameError, by: int) -> FrameError:
    """The same error with its byte offset counted from the start of the 6LoWPAN payload."""
    match = re.match(r"offset (\d+): (.*)", str(error), re.DOTALL)
    if match is None:
        return error
    return FrameError(f"offset {int(match[1]) + by}: {match[2]} (inside a first fragment)")


class _Buffer:
    """One datagram being reassembled: fragments by uncompressed byte offset."""

    __slots__ = ("deadline", "pieces", "received")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.pieces: dict[int, bytes] = {}
        self.received = 0


class Reassembler:
    """Reassembly buffers of one receiver, RFC 4944 §5.3.

    Keyed by (source link address, destination link address, datagram_size,
    datagram_tag). Duplicates are ignored and fragments may come in any order; a
    fragment that overlaps an accumulated one with a different offset or size (or
    other bytes) discards the buffer and starts a new one with it; a fragment
    reaching past datagram_size is dropped. Buffers older than `timeout_s` expire.

    Counters: `completed` datagrams, `timed_out` buffers, `dropped` fragments or
    buffers discarded for inconsistency.
    """

    def __init__(self, *, contexts: Mapping[int, bytes], timeout_s: float = REASSEMBLY_TIMEOUT_S):
        self.contexts = contexts
        self.timeout_s = timeout_s
        self.completed = 0
        self.timed_out = 0
        self.dropped = 0
        self._buffers: dict[tuple[bytes, bytes, int, int], _Buffer] = {}
        self._next_deadline = float("inf")

    def __len__(self) -> int:
        """Datagrams currently being reassembled."""
        return len(self._buffers)

    def add(self, src_ll: bytes, dst_ll: bytes, lowpan: bytes, now: float) -> bytes | None:
        """Take one 6LoWPAN payload; return the whole IPv6 packet once it is complete.

        Unfragmented payloads (IPHC or 0x41 IPv6) come straight back decompressed.
        Raises FrameError (offset within `lowpan`) for a payload that cannot be parsed.
        """
        if now >= self._next_deadline:
            self.expire(now)
        if not lowpan:
            raise FrameError("offset 0: empty 6LoWPAN payload")
        dispatch = lowpan[0] & 0xF8
        if dispatch == DISPATCH_FRAG1:
            if len(lowpan) < FRAG1_LENGTH + 1:
                raise FrameError(f"offset {len(lowpan)}: FRAG1 truncated ({len(lowpan)} bytes)")
            size = ((lowpan[0] & 7) << 8) | lowpan[1]
            tag = (lowpan[2] << 8) | lowpan[3]
            try:
                piece = self._unfragmented(lowpan[FRAG1_LENGTH:], src_ll, dst_ll, size)
            except FrameError as error:
                raise _shifted(error, FRAG1_LENGTH) from None
            offset = 0
        elif dispatch == DISPATCH_FRAGN:
            if len(lowpan) < FRAGN_LENGTH:
                raise FrameError(f"offset {len(lowpan)}: FRAGN truncated ({len(lowpan)} bytes)")
            size = ((lowpan[0] & 7) << 8) | lowpan[1]
            tag = (lowpan[2] << 8) | lowpan[3]
            offset = lowpan[4] << 3
            piece = lowpan[FRAGN_LENGTH:]
        else:
            packet = self._unfragmented(lowpan, src_ll, dst_ll, None)
            self.completed += 1
            return packet
        return self._accept((src_ll, dst_ll, size, tag), size, offset, piece, now)

    def _unfragmented(
        self, lowpan: bytes, src_ll: bytes, dst_ll: bytes, size: int | None
    ) -> bytes:
        if lowpan[0] == DISPATCH_IPV6:
            return lowpan[1:]
        header, consumed = decompress(
            lowpan, src_ll=src_ll, dst_ll=dst_ll, contexts=self.contexts, datagram_size=size
        )
        return header + lowpan[consumed:]

    def _accept(
        self, key: tuple[bytes, bytes, int, int], size: int, offset: int, piece: bytes,
        now: float,
    ) -> bytes | None:
        end = offset + len(piece)
        if end > size or not piece:
            self.dropped += 1
            return None
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = _Buffer(now + self.timeout_s)
            if buffer.deadline < self._next_deadline:
                self._next_deadline = buffer.deadline
        else:
            same = buffer.pieces.get(offset)
            if same is not None and same == piece:
                return None  # duplicate (e.g. a retransmission whose ACK was lost)
            for start, other in buffer.pieces.items():
                if start < end and offset < start + len(other):
                    # RFC 4944 §5.3: overlap with a different offset or size discards the buffer.
                    self.dropped += 1
                    buffer = self._buffers[key] = _Buffer(now + self.timeout_s)
                    break
        buffer.pieces[offset] = piece
        buffer.received += len(piece)
        if buffer.received < size:
            return None
        del self._buffers[key]
        self.completed += 1
        pieces = buffer.pieces
        return b"".join(pieces[start] for start in sorted(pieces))

    def expire(self, now: float) -> int:
        """Drop buffers whose reassembly timer ran out; return how many."""
        stale = [key for key, buffer in self._buffers.items() if buffer.deadline <= now]
        for key in stale:
            del self._buffers[key]
        self.timed_out += len(stale)
        self._next_deadline = min(
            (buffer.deadline for buffer in self._buffers.values()), default=float("inf")
        )
        return len(stale)
