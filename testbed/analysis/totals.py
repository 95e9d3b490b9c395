"""Capture totals on the bulk path: frames, PSDU bytes, ACKs, TCP and UDP payload bytes.

What it is: `capture_totals(path)` reads a LINKTYPE 195 pcap in one pass with no per-frame
objects: record headers by `struct.unpack_from`, header shapes (MHR length by frame control,
IPHC length by its two bytes, RFC 6282 §3.1) cached, fragments (RFC 4944 §5.3) counted per
(addresses, size, tag) only as far as needed to know where a datagram completes. The figures
are those a dissector shows frame by frame (tshark's frame.len, tcp.len, udp.length - 8): an
unfragmented datagram counts each time a frame carries it (MAC retries too), a fragmented one
once, at the fragment that completes it. RFC 6282 §4.2 NHC extension headers (Contiki-NG's
RPL headers) take the codec's slow path. What it is not: the attribution (account.py); it
trusts the FCS (no CRC check) and counts no payload behind extension headers carried inline.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from testbed.analysis.layers import _TF_LENGTH, TCP, UDP, iphc_shape, nhc_udp_length
from testbed.capture.pcapfile import GLOBAL_HEADER, MAGICS, RECORD_HEADER, iter_frames
from testbed.errors import BadInput, FrameError
from testbed.lowpan import iphc

_ADDR = (0, 0, 2, 8)


@dataclass(frozen=True, slots=True)
class Totals:
    frames: int
    bytes: int
    ack_frames: int
    tcp_payload: int
    udp_payload: int


def _mhr_length(fcf: int) -> int:
    """MHR bytes (no FCS) by frame control, IEEE 802.15.4-2006 §7.2.1 (no security)."""
    dst, src = (fcf >> 10) & 3, (fcf >> 14) & 3
    length = 3 + _ADDR[dst] + _ADDR[src] + (2 if dst else 0)
    if src and not (fcf & 0x40 and dst):
        length += 2
    return length


_ANY_LL = b"\0\0"  # addresses do not change a header's length
_ANY_CONTEXTS = {cid: bytes(8) for cid in range(16)}


# RFC 6282 §4.2, RFC 8200 §4
def _behind_extensions(lowpan: bytes) -> tuple[int, int, int]:
    """(upper-layer protocol, uncompressed header bytes (with a UDP header if compressed),
    offset of the first inline byte) of an IPHC payload whose NHC chain has extension
    headers: decompressed by the codec, then walked like RFC 8200 §4 chains them."""
    header, consumed = iphc.decompress(lowpan, src_ll=_ANY_LL, dst_ll=_ANY_LL,
                                       contexts=_ANY_CONTEXTS)
    nh, o = header[6], 40
    while o < len(header):
        if nh in (0, 43, 60, 135):
            nh, o = header[o], o + (header[o + 1] + 1) * 8
        elif nh == 44:
            nh, o = header[o], o + 8
        elif nh == 41:
            nh, o = header[o + 6], o + 40
        else:
            break
    return nh, len(header), consumed


def capture_totals(path: str | Path) -> Totals:
    """Totals of a capture (see the module docstring); BadInput naming the offset if damaged."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read capture ({exc.strerror})") from exc
    if len(data) < GLOBAL_HEADER or data[:4] not in MAGICS:
        for _ in iter_frames(path):  # the reader's own message names the offset
            pass
    order = MAGICS[data[:4]][0]
    if struct.unpack_from(order + "I", data, 20)[0] != 195:
        for _ in iter_frames(path):
            pass
    record = struct.Struct(order + "8xII")
    mhr_cache: dict[int, int] = {}
    iphc_cache: dict[int, tuple[int, int, int]] = {}  # (b0<<8|b1) -> (length, nh, nh offset)
    buffers: dict[bytes, list] = {}
    frames = total = acks = tcp = udp = 0
    offset = GLOBAL_HEADER
    end = len(data)
    try:
        while offset < end:
            incl, _orig = record.unpack_from(data, offset)
            start = offset + RECORD_HEADER
            offset = start + incl
            if offset > end:
                raise BadInput(f"{path}: offset {start}: truncated frame "
                               f"({end - start} of {incl} bytes)")
            frames += 1
            total += incl
            if incl < 5:
                continue
            b = data[start]
            kind = b & 7
            if kind == 2:
                acks += 1
                continue
            if kind != 1:
                continue
            fcf = b | (data[start + 1] << 8)
            mhr = mhr_cache.get(fcf)
            if mhr is None:
                mhr = mhr_cache[fcf] = _mhr_length(fcf)
            p = start + mhr  # first 6LoWPAN byte
            stop = offset - 2  # before the FCS
            if p + 2 > stop:
                continue
            d = data[p]
            if d & 0xF8 == 0xE0:  # FRAGN
                key = data[start + 3:p] + data[p:p + 4]
                buf = buffers.get(key)
                if buf is None:
                    continue  # its FRAG1 was never seen: nothing a dissector would complete
                at = data[p + 4]
                if at in buf[3]:
                    continue
                buf[3].add(at)
                buf[1] += stop - p - 5
                if buf[1] >= buf[0]:
                    del buffers[key]
                    if buf[2] == TCP:
                        tcp += buf[4]
                    elif buf[2] == UDP:
                        udp += buf[4]
                continue
            frag = d & 0xF8 == 0xC0
            q = p + 4 if frag else p
            b0 = data[q]
            if b0 & 0xE0 != 0x60:
                continue
            k = (b0 << 8) | data[q + 1]
            shape = iphc_cache.get(k)
            if shape is None:
                length, nh = iphc_shape(b0, data[q + 1])
                nh_at = 2 + (1 if data[q + 1] & 0x80 else 0) + _TF_LENGTH[(b0 >> 3) & 3]
                shape = iphc_cache[k] = (length, UDP if nh else -1, nh_at)
            length, nh, nh_at = shape
            if nh < 0:
                nh = data[q + nh_at]
            h = q + length  # the transport header (or the UDP NHC)
            if nh == UDP and data[h] & 0xF0 == 0xE0:  # NHC extension headers (RFC 6282 §4.2)
                nh, headers, h = _behind_extensions(data[q:stop])
                h += q
                if frag:
                    size = ((d & 7) << 8) | data[p + 1]
                    payload = size - headers - (
                        ((data[h + 12] >> 4) << 2) if nh == TCP else 0) if nh in (TCP, UDP) else 0
                    key = data[start + 3:p] + data[p:p + 4]
                    key = key[:-4] + bytes((0xE0 | (d & 7),)) + key[-3:]
                    buffers[key] = [size, headers + stop - h, nh, {0}, payload]
                elif nh == TCP:
                    tcp += stop - h - ((data[h + 12] >> 4) << 2)
                elif nh == UDP:
                    udp += stop - h
                continue
            if frag:
                size = ((d & 7) << 8) | data[p + 1]
                if nh == TCP:
                    payload = size - 40 - ((data[h + 12] >> 4) << 2)
                elif nh == UDP:
                    payload = size - 48
                else:
                    payload = 0
                covered = (48 if nh == UDP else 40) + stop - h - (
                    nhc_udp_length(data[h]) if nh == UDP else 0)
                key = data[start + 3:p] + data[p:p + 4]
                key = key[:-4] + bytes((0xE0 | (d & 7),)) + key[-3:]
                buffers[key] = [size, covered, nh, {0}, payload]
                continue
            if nh == TCP:
                tcp += stop - h - ((data[h + 12] >> 4) << 2)
            elif nh == UDP:
                udp += stop - h - nhc_udp_length(data[h])
    except (IndexError, struct.error, FrameError) as exc:
        raise BadInput(f"{path}: offset {offset}: cannot read frame ({exc})") from None
    return Totals(frames, total, acks, tcp, udp)
