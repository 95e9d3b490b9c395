"""The fast path of decode_frames (HeaderMemo) gives the plain path's answers, byte for byte.

Frames are drawn to hit both what the memo keeps (repeated frame controls, addresses, ACKs,
IPHC headers differing by their UDP checksum) and what it must leave to the plain path
(reserved modes, security, frame versions, short frames, bad FCS, random bytes).
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.analysis.account import DEFAULT_PREFIX, _Contexts, analyze
from testbed.analysis.datagrams import Decoded, HeaderMemo, decode_frames, mac_fields
from testbed.errors import FrameError
from testbed.analysis.layers import lowpan_header_lengths
from testbed.lowpan import frag, iphc, mac
from testbed.lowpan.fcs import fcs_bytes
from tests.lowpan.lowpan_strategies import CONTEXTS, datagrams

PAN_ID = 0xABCD
_CONTEXTS = _Contexts(DEFAULT_PREFIX.network_address.packed[:8])


def _outcome(read, psdu: bytes):  # type: ignore[no-untyped-def]
    try:
        return read(psdu)
    except FrameError as exc:
        return "FrameError", str(exc)


nodes = st.sampled_from([(2, 0x0001), (2, 0x0002), (2, 0xFFFF), (3, 0x0212_4B00_0A0B_0C0D)])


@st.composite
def data_frames(draw: st.DrawFn) -> list[bytes]:
    """The frames of one IPv6 datagram between two nodes (fragmented when it must be)."""
    (dst_mode, dst), (src_mode, src) = draw(nodes), draw(nodes)
    src_ll = src.to_bytes(8 if src_mode == 3 else 2, "big")
    dst_ll = dst.to_bytes(8 if dst_mode == 3 else 2, "big")
    packet, _, _ = draw(datagrams(src_ll=src_ll, dst_ll=dst_ll))
    if packet[6] == 17 and draw(st.booleans()):  # the same datagram, another UDP checksum
        packet = packet[:46] + struct.pack(">H", draw(st.integers(0, 0xFFFF))) + packet[48:]
    room = mac.MAX_PSDU - mac.header_length(dst_mode, src_mode)
    payloads = frag.fragment(packet, src_ll=src_ll, dst_ll=dst_ll, contexts=CONTEXTS,
                             tag=draw(st.integers(0, 0xFFFF)), max_payload=room)
    seq = draw(st.integers(0, 255))
    return [mac.encode_data(seq=(seq + i) & 0xFF, pan_id=PAN_ID, dst=dst, dst_mode=dst_mode,
                            src=src, src_mode=src_mode, payload=p, ack_request=True)
            for i, p in enumerate(payloads)]


def _with_fcs(data: bytes) -> bytes:
    return data + fcs_bytes(data)


def _damaged(psdu: bytes, at: int, value: int) -> bytes:
    if not psdu:
        return bytes((value,))
    at %= len(psdu)
    return psdu[:at] + bytes((value,)) + psdu[at + 1:]


#: any frame control (reserved modes, security, versions 2-3, beacons, commands) with a good FCS
odd_frames = st.binary(min_size=3, max_size=40).map(_with_fcs)
acks = st.builds(mac.encode_ack, st.integers(0, 255), st.booleans())


@st.composite
def captures(draw: st.DrawFn) -> list[bytes]:
    """PSDUs in air order: datagrams with ACKs, MAC retries, damaged and odd frames."""
    out: list[bytes] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["data", "data", "data", "odd", "random", "damaged"]))
        if kind == "data":
            for psdu in draw(data_frames()):
                out.append(psdu)
                if draw(st.booleans()):
                    out.append(psdu)  # a MAC retry
                out.append(mac.encode_ack(psdu[2]))
        elif kind == "odd":
            out.append(draw(odd_frames))
        elif kind == "random":
            out.append(draw(st.binary(max_size=130)))
        elif out:
            out.append(_damaged(draw(st.sampled_from(out)), draw(st.integers(0, 200)),
                                draw(st.integers(0, 255))))
    return out + out  # everything a second time: now the memo has seen it


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(data_frames().map(lambda f: f[0]), acks, odd_frames,
                          st.binary(max_size=130)), min_size=1, max_size=20))
def test_mac_fields_memo_agrees_with_mac_decode(psdus: list[bytes]) -> None:
    memo = HeaderMemo()
    for psdu in psdus + psdus + [p[:-1] for p in psdus] + [p + b"\0" for p in psdus]:
        assert _outcome(memo.mac_fields, psdu) == _outcome(mac_fields, psdu)


def _view(decoded: Decoded) -> list[tuple]:
    """Every field of every frame, references as indices, datagrams by their bytes."""
    order = {id(d): i for i, d in enumerate(decoded.datagrams + decoded.incomplete)}
    return [(f.index, f.time, f.length, f.kind, f.seq, f.src, f.mac, f.lowpan, f.nhc, f.span,
             f.error, f.psdu, f.fragment,
             f.retry_of.index if f.retry_of else None, f.acked.index if f.acked else None,
             order.get(id(f.datagram)),
             (f.datagram.packet, f.datagram.size, f.datagram.src_ll, f.datagram.dst_ll,
              f.datagram.fragmented) if f.datagram else None)
            for f in decoded.frames]


@settings(max_examples=150, deadline=None)
@given(captures())
def test_fast_and_plain_paths_decode_and_attribute_alike(psdus: list[bytes]) -> None:
    captured = [(i * 0.004, psdu) for i, psdu in enumerate(psdus)]
    fast = decode_frames(captured, _CONTEXTS, fast=True)
    plain = decode_frames(captured, _CONTEXTS, fast=False)
    assert _view(fast) == _view(plain)
    assert fast.mac_retries == plain.mac_retries
    assert analyze(captured, fast=True).to_json() == analyze(captured, fast=False).to_json()


def test_the_memo_serves_repeated_headers() -> None:
    """A capture repeats few header shapes: one entry per shape, whatever the UDP checksum."""
    memo = HeaderMemo()
    src_ll, dst_ll = b"\x00\x02", b"\x00\x01"
    sensor = DEFAULT_PREFIX.network_address.packed[:8] + b"\x00\x00\x00\xff\xfe\x00\x00\x02"
    cloud = bytes.fromhex("fd010000000000000000000000000001")
    for checksum in (0x1234, 0xBEEF):
        body = struct.pack(">HHHH", 5683, 5683, 13, checksum) + b"hello"
        packet = struct.pack(">IHBB", 0x60000000, len(body), 17, 64) + sensor + cloud + body
        header, consumed = iphc.compress(packet, src_ll=src_ll, dst_ll=dst_ll, contexts=CONTEXTS)
        inner = header + packet[consumed:]
        lengths = lowpan_header_lengths(inner)
        used = lengths[1] + lengths[2]
        plain = iphc.decompress(inner, src_ll=src_ll, dst_ll=dst_ll, contexts=_CONTEXTS)
        assert memo.decompress(inner, src_ll, dst_ll, _CONTEXTS, None, used, lengths[2]) == plain
        assert plain[0] == packet[:48]
    assert len(memo.iphc) == 1
    for psdu in (mac.encode_ack(7), mac.encode_ack(7)):
        assert memo.mac_fields(psdu) == mac_fields(psdu)
    assert len(memo.acks) == 1
