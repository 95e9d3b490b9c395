"""IEEE 802.15.4-2006 MAC frames (§7.2): encode data and ACK frames, decode any header.

What it is: the MAC header (MHR), payload and FCS of frame versions 0 (2003) and
1 (2006) for beacon, data, ACK and MAC command frames, with short or extended
addresses and PAN ID compression. The payload is opaque here (6LoWPAN is
`frag.py`/`iphc.py`). What it is not: security (auxiliary security header),
IEEE 802.15.4e information elements (frame version 2), nor beacon/command payload
parsing.

Encoding is tuned for the radio medium's hot path: the common data-frame shapes
use one precompiled `struct.Struct` each, and the FCS is computed in C (`fcs.py`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from testbed.errors import FrameError
from testbed.lowpan.fcs import fcs16

#: aMaxPHYPacketSize, IEEE 802.15.4-2006 §6.4.1: the largest PSDU (MHR + payload + FCS).
MAX_PSDU = 127
FCS_LENGTH = 2


class FrameType(IntEnum):
    """Frame type subfield, IEEE 802.15.4-2006 §7.2.1.1.1 (Table 79)."""

    BEACON = 0
    DATA = 1
    ACK = 2
    MAC_COMMAND = 3


class AddrMode(IntEnum):
    """Addressing mode subfields, IEEE 802.15.4-2006 §7.2.1.1.6 (Table 80); 1 is reserved."""

    NONE = 0
    SHORT = 2
    EXTENDED = 3


# Frame Control field bits, IEEE 802.15.4-2006 §7.2.1.1 (Figure 42), little-endian.
_SECURITY = 1 << 3
_FRAME_PENDING = 1 << 4
_ACK_REQUEST = 1 << 5
_PAN_ID_COMPRESSION = 1 << 6
_DST_MODE_SHIFT = 10
_VERSION_SHIFT = 12
_SRC_MODE_SHIFT = 14

_ADDR_LENGTH = (0, -1, 2, 8)  # by addressing mode; -1 marks the reserved mode 1

_FRAME_TYPES = tuple(FrameType)
_ADDR_MODES = (AddrMode.NONE, None, AddrMode.SHORT, AddrMode.EXTENDED)

_FCS = struct.Struct("<H")
_ACK = struct.Struct("<HBH")
# Data frame headers with both addresses and PAN ID compression: FCF, seq, PAN, dst, src.
_MHR_SHORT_SHORT = struct.Struct("<HBHHH")
_MHR_EXT_EXT = struct.Struct("<HBHQQ")
_MHR_SHORT_EXT = struct.Struct("<HBHHQ")  # dst short (e.g. broadcast), src extended


@dataclass(frozen=True, slots=True)
class MacFrame:
    """One decoded MAC frame (IEEE 802.15.4-2006 §7.2.1).

    `pan_id` is the destination PAN ID (None when absent); `src_pan_id` is the
    source PAN, equal to `pan_id` when PAN ID compression elides it, None when no
    source address is present. `dst`/`src` are None when their mode is NONE.
    """

    frame_type: FrameType
    seq: int
    pan_id: int | None
    dst_mode: AddrMode
    dst: int | None
    src_mode: AddrMode
    src: int | None
    ack_request: bool
    pan_id_compression: bool
    frame_pending: bool
    payload: bytes
    src_pan_id: int | None = None
    version: int = 0

    @property
    def header_length(self) -> int:
        """MHR + FCS bytes of this frame: what the MAC adds to the payload."""
        return header_length(self.dst_mode, self.src_mode, self.pan_id_compression)


def header_length(dst_mode: int, src_mode: int, pan_id_compression: bool = True) -> int:
    """MHR + FCS length in bytes, IEEE 802.15.4-2006 §7.2.1 (Figure 41), no security.

    Frame control (2) + sequence number (1) + PAN IDs and addresses + FCS (2).
    """
    length = 5 + _ADDR_LENGTH[dst_mode] + _ADDR_LENGTH[src_mode]
    if dst_mode:
        length += 2
    if src_mode and not (pan_id_compression and dst_mode):
        length += 2
    return length


def _frame_control(
    frame_type: int, dst_mode: int, src_mode: int, *, ack_request: bool,
    frame_pending: bool, pan_id_compression: bool, version: int,
) -> int:
    return (
        frame_type
        | (_FRAME_PENDING if frame_pending else 0)
        | (_ACK_REQUEST if ack_request else 0)
        | (_PAN_ID_COMPRESSION if pan_id_compression else 0)
        | (dst_mode << _DST_MODE_SHIFT)
        | (version << _VERSION_SHIFT)
        | (src_mode << _SRC_MODE_SHIFT)
    )


def encode_data(
    *, seq: int, pan_id: int, dst: int, dst_mode: int, src: int, src_mode: int,
    payload: bytes, ack_request: bool, frame_pending: bool = False,
    src_pan_id: int | None = None,
) -> bytes:
    """A data frame PSDU (MHR + payload + FCS), IEEE 802.15.4-2006 §7.2.2.2.

    Both addresses are present. PAN ID compression is used (the source PAN is
    elided) unless `src_pan_id` names a different PAN. Frame version 0, the
    version every 2006 device accepts for an unsecured frame shorter than
    aMaxPHYPacketSize. Raises FrameError if the PSDU would exceed 127 bytes.
    """
    compress = src_pan_id is None or src_pan_id == pan_id
    fcf = _frame_control(
        1, dst_mode, src_mode, ack_request=ack_request, frame_pending=frame_pending,
        pan_id_compression=compress, version=0,
    )
    if compress and dst_mode == 2 and src_mode == 2:
        mhr = _MHR_SHORT_SHORT.pack(fcf, seq, pan_id, dst, src)
    elif compress and dst_mode == 3 and src_mode == 3:
        mhr = _MHR_EXT_EXT.pack(fcf, seq, pan_id, dst, src)
    elif compress and dst_mode == 2 and src_mode == 3:
        mhr = _MHR_SHORT_EXT.pack(fcf, seq, pan_id, dst, src)
    else:
        mhr = _encode_header(fcf, seq, pan_id, dst, dst_mode, src, src_mode, src_pan_id)
    frame = mhr + payload
    if len(frame) + FCS_LENGTH > MAX_PSDU:
        raise FrameError(
            f"offset {MAX_PSDU}: data frame of {len(frame) + FCS_LENGTH} bytes "
            f"({len(mhr)}-byte MHR + {len(payload)}-byte payload + FCS) exceeds "
            f"aMaxPHYPacketSize {MAX_PSDU}"
        )
    return frame + _FCS.pack(fcs16(frame))


def _encode_header(
    fcf: int, seq: int, pan_id: int | None, dst: int | None, dst_mode: int,
    src: int | None, src_mode: int, src_pan_id: int | None,
) -> bytes:
    """General MHR, IEEE 802.15.4-2006 §7.2.1 field order: FCF, seq, dst PAN, dst, src PAN, src."""
    parts = [struct.pack("<HB", fcf, seq)]
    if dst_mode:
        parts.append(struct.pack("<H", pan_id))
        parts.append(struct.pack("<H" if dst_mode == 2 else "<Q", dst))
    if src_mode:
        if not (fcf & _PAN_ID_COMPRESSION and dst_mode):
            parts.append(struct.pack("<H", pan_id if src_pan_id is None else src_pan_id))
        parts.append(struct.pack("<H" if src_mode == 2 else "<Q", src))
    return b"".join(parts)


def encode_ack(seq: int, frame_pending: bool = False) -> bytes:
    """An acknowledgment frame, IEEE 802.15.4-2006 §7.2.2.3: FCF, seq, FCS = 5 bytes."""
    head = _ACK.pack(2 | (_FRAME_PENDING if frame_pending else 0), seq, 0)[:3]
    return head + _FCS.pack(fcs16(head))


def decode(psdu: bytes, *, check_fcs: bool = True) -> MacFrame:
    """Parse a PSDU (MHR + payload + FCS), IEEE 802.15.4-2006 §7.2.1.

    Raises FrameError naming the byte offset of the first thing that is wrong:
    truncation, reserved addressing mode, security, frame version, bad FCS.
    """
    length = len(psdu)
    if length > MAX_PSDU:
        raise FrameError(
            f"offset {MAX_PSDU}: frame of {length} bytes exceeds aMaxPHYPacketSize {MAX_PSDU}"
        )
    if length < 5:
        raise FrameError(
            f"offset {length}: frame truncated: {length} bytes, an IEEE 802.15.4 frame "
            "needs at least frame control, sequence number and FCS (5 bytes)"
        )
    end = length - FCS_LENGTH
    if check_fcs:
        carried = psdu[end] | (psdu[end + 1] << 8)
        computed = fcs16(psdu[:end])
        if carried != computed:
            raise FrameError(
                f"offset {end}: bad FCS {carried:#06x}, computed {computed:#06x} "
                f"over bytes 0..{end - 1}"
            )
    fcf = psdu[0] | (psdu[1] << 8)
    frame_type = fcf & 7
    if frame_type > 3:
        raise FrameError(f"offset 0: reserved frame type {frame_type}")
    if fcf & _SECURITY:
        raise FrameError("offset 0: security enabled: auxiliary security header not supported")
    version = (fcf >> _VERSION_SHIFT) & 3
    if version > 1:
        raise FrameError(f"offset 1: frame version {version} not supported (only 0 and 1)")
    dst_mode = (fcf >> _DST_MODE_SHIFT) & 3
    src_mode = (fcf >> _SRC_MODE_SHIFT) & 3
    if dst_mode == 1:
        raise FrameError("offset 1: reserved destination addressing mode 1")
    if src_mode == 1:
        raise FrameError("offset 1: reserved source addressing mode 1")
    compression = bool(fcf & _PAN_ID_COMPRESSION)
    pos = 3
    pan_id = dst = src = src_pan_id = None
    if dst_mode:
        pos = _need(psdu, pos, 2, end, "destination PAN ID")
        pan_id = psdu[pos - 2] | (psdu[pos - 1] << 8)
        size = _ADDR_LENGTH[dst_mode]
        pos = _need(psdu, pos, size, end, "destination address")
        dst = int.from_bytes(psdu[pos - size:pos], "little")
    if src_mode:
        if compression and dst_mode:
            src_pan_id = pan_id
        else:
            pos = _need(psdu, pos, 2, end, "source PAN ID")
            src_pan_id = psdu[pos - 2] | (psdu[pos - 1] << 8)
        size = _ADDR_LENGTH[src_mode]
        pos = _need(psdu, pos, size, end, "source address")
        src = int.from_bytes(psdu[pos - size:pos], "little")
    return MacFrame(
        _FRAME_TYPES[frame_type], psdu[2], pan_id, _ADDR_MODES[dst_mode], dst,
        _ADDR_MODES[src_mode], src, bool(fcf & _ACK_REQUEST), compression,
        bool(fcf & _FRAME_PENDING), psdu[pos:end], src_pan_id, version,
    )


def _need(psdu: bytes, pos: int, size: int, end: int, what: str) -> int:
    """Advance past a `size`-byte field at `pos`, or raise naming the offset where it is cut."""
    if pos + size > end:
        raise FrameError(
            f"offset {pos}: frame truncated: {size}-byte {what} needs bytes "
            f"{pos}..{pos + size - 1} but the MHR ends at {end} (before the 2-byte FCS)"
        )
    return pos + size
