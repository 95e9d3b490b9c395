"""A minimal reader of classic pcap files holding IEEE 802.15.4 frames with FCS.

What it is: frames with their timestamps and PSDUs (MAC header to FCS, as tshark's
`frame.len`), from the files the medium writes (LINKTYPE_IEEE802_15_4_WITHFCS = 195). Both
byte orders and micro-/nanosecond timestamps are read. What it is not: pcapng, or a dissector
(testbed.lowpan decodes what is inside). A damaged file is a BadInput naming the byte offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import BadInput

LINKTYPE_IEEE802_15_4_WITHFCS = 195
GLOBAL_HEADER = 24
RECORD_HEADER = 16
MAX_SNAPLEN = 262144
# magic -> (struct byte order, timestamp fraction divisor)
MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e6),
    b"\xa1\xb2\xc3\xd4": (">", 1e6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9),
    b"\xa1\xb2\x3c\x4d": (">", 1e9),
}
#: IEEE 802.15.4-2015 §7.2.2.1: frame type = bits 0-2 of the Frame Control field
FRAME_TYPE_ACK = 2


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    time: float  # seconds since the epoch (start of the frame's modelled air time)
    psdu: bytes  # MAC header .. FCS
    original_length: int

    @property
    def frame_type(self) -> int | None:
        return self.psdu[0] & 0x07 if self.psdu else None

    @property
    def is_ack(self) -> bool:
        return self.frame_type == FRAME_TYPE_ACK


def iter_frames(path: str | Path, *, linktype: int | None = LINKTYPE_IEEE802_15_4_WITHFCS
                ) -> Iterator[CapturedFrame]:
    """Yield every frame of the pcap file at `path` (linktype checked unless None)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read capture ({exc.strerror})") from exc
    return parse_frames(data, str(path), linktype=linktype)


def link_type(data: bytes, name: str = "<capture>") -> int:
    """The link type in a classic pcap global header (BadInput if there is none)."""
    if len(data) < GLOBAL_HEADER or data[:4] not in MAGICS:
        raise BadInput(f"{name}: offset 0: not a pcap file")
    return struct.unpack_from(MAGICS[data[:4]][0] + "I", data, 20)[0]


def parse_frames(data: bytes, path: str, *, linktype: int | None = LINKTYPE_IEEE802_15_4_WITHFCS
                 ) -> Iterator[CapturedFrame]:
    """Yield every frame of a classic pcap held in `data` (`path` names it in errors)."""
    for time, psdu, original in parse_records(data, path, linktype=linktype):
        yield CapturedFrame(time=time, psdu=psdu, original_length=original)


def parse_records(data: bytes, path: str, *, linktype: int | None = LINKTYPE_IEEE802_15_4_WITHFCS
                  ) -> Iterator[tuple[float, bytes, int]]:
    """(time, PSDU, original length) of every record: `parse_frames` without an object per
    frame, for the analysis' bulk read (a million frames, each one object fewer)."""
    if len(data) < GLOBAL_HEADER:
        raise BadInput(f"{path}: offset 0: truncated pcap global header "
                       f"({len(data)} of {GLOBAL_HEADER} bytes)")
    magic = data[:4]
    if magic not in MAGICS:
        raise BadInput(f"{path}: offset 0: not a pcap file (magic {magic.hex()})")
    order, divisor = MAGICS[magic]
    _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(
        order + "HHiIII", data, 4
    )
    if linktype is not None and network != linktype:
        raise BadInput(f"{path}: offset 20: link type {network}, expected {linktype} "
                       "(IEEE 802.15.4 with FCS)")
    offset = GLOBAL_HEADER
    size = len(data)
    unpack = struct.Struct(order + "IIII").unpack_from
    while offset < size:
        if offset + RECORD_HEADER > size:
            raise BadInput(f"{path}: offset {offset}: truncated record header "
                           f"({size - offset} of {RECORD_HEADER} bytes)")
        sec, frac, incl, orig = unpack(data, offset)
        if incl > MAX_SNAPLEN:
            raise BadInput(f"{path}: offset {offset + 8}: record length {incl} is implausible")
        start = offset + RECORD_HEADER
        offset = start + incl
        if offset > size:
            raise BadInput(f"{path}: offset {start}: truncated frame "
                           f"({size - start} of {incl} bytes)")
        yield sec + frac / divisor, data[start:offset], orig


def read_frames(path: str | Path, **kw: int | None) -> list[CapturedFrame]:
    """Every frame of a capture, in file order."""
    return list(iter_frames(path, **kw))  # type: ignore[arg-type]
