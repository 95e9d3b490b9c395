"""RFC 4944 §5.3 fragmentation with IPHC inside, and the reassembly buffers."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.errors import FrameError
from testbed.lowpan import frag, iphc, mac
from tests.lowpan.lowpan_strategies import CONTEXTS, LINK_LOCAL, datagrams, derived_iid
from tests.lowpan.tshark_oracle import needs_tshark, tshark_fields

SRC_LL, DST_LL = b"\x00\x01", b"\x00\x02"


def tcp_datagram(size: int, hlim: int = 64) -> bytes:
    """An IPv6 datagram of `size` bytes between link-local addresses derived from the MACs."""
    upper = bytes(i * 7 & 0xFF for i in range(size - 40))
    return (
        struct.pack(">IHBB", 0x60000000, len(upper), 6, hlim)
        + LINK_LOCAL + derived_iid(SRC_LL) + LINK_LOCAL + derived_iid(DST_LL) + upper
    )


def cut(packet: bytes, max_payload: int = 116, tag: int = 0x1234) -> list[bytes]:
    return frag.fragment(packet, src_ll=SRC_LL, dst_ll=DST_LL, contexts=CONTEXTS, tag=tag,
                         max_payload=max_payload)


def test_small_datagram_is_one_iphc_payload() -> None:
    packet = tcp_datagram(100)
    (only,) = cut(packet)
    assert only == bytes((0x7A, 0x33, 6)) + packet[40:]


def test_frag1_is_4_bytes_and_fragn_5_bytes() -> None:
    packet = tcp_datagram(300)
    first, *rest = cut(packet)
    # 11000 + size 300 (0x12c), tag 0x1234, then IPHC (3 bytes: NH inline).
    assert first[:4] == bytes((0xC1, 0x2C, 0x12, 0x34))
    assert first[4:7] == bytes((0x7A, 0x33, 6))
    # 116 - 4 - 3 = 109 bytes of room; 40 + n <= 149 and a multiple of 8 -> n = 104,
    # standing for 144 uncompressed bytes.
    assert len(first) == 4 + 3 + 104
    assert first[7:] == packet[40:144]
    assert rest[0][:5] == bytes((0xE1, 0x2C, 0x12, 0x34, 144 // 8))
    assert rest[0][5:] == packet[144:248]  # (116 - 5) rounded down to a multiple of 8
    assert rest[1][:5] == bytes((0xE1, 0x2C, 0x12, 0x34, 248 // 8))
    assert rest[1][5:] == packet[248:]
    assert len(rest) == 2


def test_1280_byte_datagram_fits_127_byte_frames_and_reassembles() -> None:
    packet = tcp_datagram(1280)
    for max_payload in (116, 104):  # short / extended MAC headers
        payloads = cut(packet, max_payload)
        assert all(len(p) <= max_payload for p in payloads)
        assert len(payloads) in range(12, 14)
        reassembler = frag.Reassembler(contexts=CONTEXTS)
        results = [reassembler.add(SRC_LL, DST_LL, p, now=0.0) for p in payloads]
        assert results[:-1] == [None] * (len(payloads) - 1)
        assert results[-1] == packet
        assert (reassembler.completed, reassembler.dropped, len(reassembler)) == (1, 0, 0)


@settings(max_examples=40)
@given(
    datagrams(src_ll=SRC_LL, dst_ll=DST_LL),
    st.integers(200, 1200),
    st.sampled_from([116, 104, 81]),
    st.randoms(use_true_random=False),
)
def test_any_order_with_duplicates_reassembles(
    case: tuple[bytes, bytes, bytes], pad: int, max_payload: int, random
) -> None:
    packet, _, _ = case
    # Grow the datagram (keeping its headers consistent) so it needs fragments.
    packet = packet + bytes(pad)
    packet = packet[:4] + struct.pack(">H", len(packet) - 40) + packet[6:]
    if packet[6] == 17:
        packet = packet[:44] + struct.pack(">H", len(packet) - 40) + packet[46:]
    payloads = cut(packet, max_payload)
    assert all(len(p) <= max_payload for p in payloads)
    sent = payloads + random.sample(payloads, k=min(3, len(payloads)))
    random.shuffle(sent)
    reassembler = frag.Reassembler(contexts=CONTEXTS)
    done = [r for p in sent if (r := reassembler.add(SRC_LL, DST_LL, p, now=1.0)) is not None]
    assert done[0] == packet
    # A duplicate arriving after completion starts a new (incomplete) buffer, never a 2nd copy
    # of a different datagram.
    assert all(d == packet for d in done)


@given(datagrams())
def test_offsets_count_uncompressed_8_byte_units(case: tuple[bytes, bytes, bytes]) -> None:
    packet, src_ll, dst_ll = case
    packet = packet + bytes(300)
    payloads = frag.fragment(packet, src_ll=src_ll, dst_ll=dst_ll, contexts=CONTEXTS, tag=1,
                             max_payload=100)
    header, used = iphc.compress(packet, src_ll=src_ll, dst_ll=dst_ll, contexts=CONTEXTS)
    covered = used + len(payloads[0]) - 4 - len(header)
    assert covered % 8 == 0
    for payload in payloads[1:]:
        assert payload[4] * 8 == covered
        covered += len(payload) - 5
        assert payload is payloads[-1] or (len(payload) - 5) % 8 == 0
    assert covered == len(packet)


def test_overlap_with_different_size_discards_the_buffer() -> None:
    packet = tcp_datagram(300)
    first, second, third = cut(packet)
    reassembler = frag.Reassembler(contexts=CONTEXTS)
    assert reassembler.add(SRC_LL, DST_LL, second, 0.0) is None
    # A FRAGN at offset 13 (104 bytes) overlapping the one at offset 13 but 8 bytes shorter.
    assert reassembler.add(SRC_LL, DST_LL, second[:-8], 0.0) is None
    assert reassembler.dropped == 1
    assert reassembler.add(SRC_LL, DST_LL, first, 0.0) is None
    assert reassembler.add(SRC_LL, DST_LL, third, 0.0) is None  # hole: bytes 200..207
    assert reassembler.add(SRC_LL, DST_LL, second, 0.0) is None  # overlaps the short one
    assert reassembler.dropped == 2


def test_fragment_past_datagram_size_is_dropped() -> None:
    reassembler = frag.Reassembler(contexts=CONTEXTS)
    bogus = bytes((0xE1, 0x2C, 0, 1, 37)) + bytes(8)  # offset 296 + 8 > 300
    assert reassembler.add(SRC_LL, DST_LL, bogus, 0.0) is None
    assert (reassembler.dropped, len(reassembler)) == (1, 0)


def test_buffers_are_keyed_by_link_addresses_and_tag() -> None:
    packet = tcp_datagram(300)
    reassembler = frag.Reassembler(contexts=CONTEXTS)
    a, b = cut(packet, tag=1), cut(packet, tag=2)
    for payload in a[:2] + b[:2]:
        assert reassembler.add(SRC_LL, DST_LL, payload, 0.0) is None
    assert reassembler.add(b"\x00\x09", DST_LL, a[2], 0.0) is None  # other sender
    assert len(reassembler) == 3
    assert reassembler.add(SRC_LL, DST_LL, b[2], 0.0) == packet
    assert reassembler.add(SRC_LL, DST_LL, a[2], 0.0) == packet


def test_reassembly_times_out() -> None:
    packet = tcp_datagram(300)
    first, second, third = cut(packet)
    reassembler = frag.Reassembler(contexts=CONTEXTS, timeout_s=5.0)
    reassembler.add(SRC_LL, DST_LL, first, now=100.0)
    reassembler.add(SRC_LL, DST_LL, second, now=104.0)
    assert reassembler.add(SRC_LL, DST_LL, third, now=105.0) is None  # expired first
    assert reassembler.timed_out == 1
    assert reassembler.expire(now=200.0) == 1  # the buffer `third` started
    assert (reassembler.timed_out, reassembler.completed, len(reassembler)) == (2, 0, 0)


def test_bad_payloads_name_offsets() -> None:
    reassembler = frag.Reassembler(contexts=CONTEXTS)
    with pytest.raises(FrameError, match=r"offset 3: FRAGN truncated"):
        reassembler.add(SRC_LL, DST_LL, b"\xe1\x2c\x00", 0.0)
    first_fragment_error = r"^offset 7: IPHC header truncated.*inside a first fragment"
    with pytest.raises(FrameError, match=first_fragment_error):
        reassembler.add(SRC_LL, DST_LL, bytes((0xC1, 0x2C, 0, 1, 0x78, 0x00, 6)), 0.0)
    with pytest.raises(FrameError, match=r"offset 0: not an IPHC header"):
        reassembler.add(SRC_LL, DST_LL, b"\x80\x00", 0.0)


def test_uncompressed_ipv6_dispatch_is_accepted() -> None:
    packet = tcp_datagram(60)
    assert frag.Reassembler(contexts=CONTEXTS).add(SRC_LL, DST_LL, b"\x41" + packet, 0.0) == packet


@needs_tshark
def test_tshark_reassembles_our_fragments(tmp_path) -> None:
    """Wireshark's 6LoWPAN reassembly agrees with our offsets and sizes, short and extended."""
    packet = tcp_datagram(1280)
    psdus = []
    eui_1, eui_2 = bytes.fromhex("0200000000000001"), bytes.fromhex("0200000000000002")
    for mode, src_ll, dst_ll in ((2, SRC_LL, DST_LL), (3, eui_1, eui_2)):
        max_payload = mac.MAX_PSDU - mac.header_length(mode, mode)
        addresses = LINK_LOCAL + derived_iid(src_ll) + LINK_LOCAL + derived_iid(dst_ll)
        ll_packet = packet[:8] + addresses + packet[40:]
        for seq, payload in enumerate(frag.fragment(
            ll_packet, src_ll=src_ll, dst_ll=dst_ll, contexts=CONTEXTS, tag=5,
            max_payload=max_payload,
        )):
            psdus.append(mac.encode_data(
                seq=seq, pan_id=0xABCD, dst=int.from_bytes(dst_ll, "big"), dst_mode=mode,
                src=int.from_bytes(src_ll, "big"), src_mode=mode, payload=payload,
                ack_request=True,
            ))
    fields = ("frame.len", "ipv6.plen", "data.data", "_ws.malformed", "wpan.fcs_ok")
    rows = tshark_fields(psdus, fields, tmp_path)
    assert all(row["wpan.fcs_ok"] == "1" and not row["_ws.malformed"] for row in rows)
    assert all(int(row["frame.len"]) <= 127 for row in rows)
    complete = [row for row in rows if row["ipv6.plen"]]
    assert [row["ipv6.plen"] for row in complete] == ["1240", "1240"]
    assert all(row["data.data"] == packet[40:].hex() for row in complete)


def test_frag1_announcing_a_datagram_smaller_than_its_header_is_a_frame_error() -> None:
    """A FRAG1 whose datagram_size cannot hold the IPv6 header is refused, not a crash."""
    import ipaddress

    from testbed.errors import FrameError
    from testbed.lowpan.frag import Reassembler

    contexts = {0: ipaddress.IPv6Network("fd00::/64").network_address.packed[:8]}
    iphc_udp = bytes([0x7E, 0x33, 0xF0, 0xC3, 0x50, 0x16, 0x33, 0xBE, 0xEF])
    for size in (0, 20, 39, 47):
        frag1 = bytes([0xC0 | (size >> 8), size & 0xFF, 0x12, 0x34]) + iphc_udp
        with pytest.raises(FrameError, match=r"offset \d+: datagram_size"):
            Reassembler(contexts=contexts).add(b"\x00\x01", b"\x00\x02", frag1, 0.0)
