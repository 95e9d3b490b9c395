"""A reader of pcapng files (the format Wireshark and tshark save by default).

What it is: the blocks a capture of IEEE 802.15.4 frames needs, after draft-ietf-opsawg-pcapng
(the pcapng specification): Section Header Block (§4.1, either byte order, several sections per
file), Interface Description Block (§4.2, with the if_tsresol and if_tsoffset options, §4.2
table 7), Enhanced Packet Block (§4.3) and Simple Packet Block (§4.4, which has no timestamp:
it gets the time of the previous packet, or 0). Every other block (name resolution, interface
statistics, custom, ...) is skipped. What it is not: a writer, or a dissector.
A damaged file is a BadInput naming the byte offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from testbed.errors import BadInput

SHB = 0x0A0D0D0A
IDB = 0x00000001
SPB = 0x00000003
EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT = 0
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14
MAX_BLOCK = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Packet:
    time: float
    link_type: int
    data: bytes
    original_length: int
    interface: int
    offset: int  # of the block holding it


@dataclass(slots=True)
class _Interface:
    link_type: int
    snaplen: int
    units_per_second: int = 1_000_000  # if_tsresol default: microseconds
    offset_s: int = 0


def is_pcapng(data: bytes) -> bool:
    return len(data) >= 4 and data[:4] == b"\x0a\x0d\x0d\x0a"


def _options(body: bytes, order: str, at: int) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == OPT_ENDOFOPT:
            return
        value = body[pos + 4:pos + 4 + length]
        if len(value) < length:
            raise BadInput(f"offset {at + pos}: option {code} runs past its block")
        yield code, value
        pos += 4 + length + (-length % 4)


def _tsresol(value: int) -> int:
    """if_tsresol: 10^-v seconds per unit, or 2^-(v & 0x7f) when the top bit is set."""
    return 2 ** (value & 0x7F) if value & 0x80 else 10 ** value


def iter_packets(data: bytes, name: str = "<capture>") -> Iterator[Packet]:
    """Every packet of a pcapng file held in `data`, in file order."""
    order = "<"
    interfaces: list[_Interface] = []
    last_time = 0.0
    pos = 0
    seen_shb = False
    while pos < len(data):
        if pos + 12 > len(data):
            raise BadInput(f"{name}: offset {pos}: truncated block header "
                           f"({len(data) - pos} of 12 bytes)")
        (block_type,) = struct.unpack_from("<I", data, pos)  # SHB's type reads the same both ways
        if block_type == SHB:
            (magic,) = struct.unpack_from("<I", data, pos + 8)
            if magic == BYTE_ORDER_MAGIC:
                order = "<"
            elif magic == struct.unpack("<I", struct.pack(">I", BYTE_ORDER_MAGIC))[0]:
                order = ">"
            else:
                raise BadInput(f"{name}: offset {pos + 8}: bad byte-order magic {magic:#010x}")
            interfaces = []
            seen_shb = True
        elif not seen_shb:
            raise BadInput(f"{name}: offset {pos}: not a pcapng file (no section header block)")
        block_type, total = struct.unpack_from(order + "II", data, pos)
        if total < 12 or total % 4 or total > MAX_BLOCK:
            raise BadInput(f"{name}: offset {pos + 4}: implausible block length {total}")
        if pos + total > len(data):
            raise BadInput(f"{name}: offset {pos}: truncated block "
                           f"({len(data) - pos} of {total} bytes)")
        (trailer,) = struct.unpack_from(order + "I", data, pos + total - 4)
        if trailer != total:
            raise BadInput(f"{name}: offset {pos + total - 4}: block length {trailer} at the end "
                           f"differs from {total} at the start")
        body = data[pos + 8:pos + total - 4]
        if block_type == IDB:
            if len(body) < 8:
                raise BadInput(f"{name}: offset {pos}: interface description block too short")
            link_type, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
            interface = _Interface(link_type, snaplen)
            for code, value in _options(body[8:], order, pos + 16):
                if code == OPT_IF_TSRESOL and len(value) >= 1:
                    interface.units_per_second = _tsresol(value[0])
                elif code == OPT_IF_TSOFFSET and len(value) >= 8:
                    (interface.offset_s,) = struct.unpack_from(order + "q", value)
            interfaces.append(interface)
        elif block_type == EPB:
            if len(body) < 20:
                raise BadInput(f"{name}: offset {pos}: enhanced packet block too short")
            index, high, low, captured, original = struct.unpack_from(order + "IIIII", body, 0)
            if index >= len(interfaces):
                raise BadInput(f"{name}: offset {pos + 8}: packet on interface {index}, "
                               f"but only {len(interfaces)} described")
            if 20 + captured > len(body):
                raise BadInput(f"{name}: offset {pos + 20}: captured length {captured} runs "
                               "past its block")
            interface = interfaces[index]
            last_time = interface.offset_s + ((high << 32) | low) / interface.units_per_second
            yield Packet(last_time, interface.link_type, body[20:20 + captured], original,
                         index, pos)
        elif block_type == SPB:
            if not interfaces:
                raise BadInput(f"{name}: offset {pos}: simple packet block before any interface")
            (original,) = struct.unpack_from(order + "I", body, 0)
            snaplen = interfaces[0].snaplen or original
            captured = min(original, snaplen)
            if 4 + captured > len(body):
                raise BadInput(f"{name}: offset {pos + 12}: packet runs past its block")
            yield Packet(last_time, interfaces[0].link_type, body[4:4 + captured], original, 0, pos)
        pos += total
