"""Header sizes and PHY figures, hand-computed (RFC 4944 §5.3, RFC 6282 §3.1, 802.15.4 §6.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.analysis.layers import (
    FRAG1_LENGTH, FRAGN_LENGTH, airtime, iphc_shape, lowpan_header_lengths,
)
from testbed.errors import FrameError
from testbed.lowpan import iphc
from testbed.lowpan.frag import fragment

from tests.lowpan.lowpan_strategies import UDP, chained

from .frames import ADAPTER, PREFIX, address, ipv6, udp

LL1, LL2 = b"\x00\x01", b"\x00\x02"
LINK_LOCAL_1 = bytes.fromhex("fe80000000000000000000fffe000001")
LINK_LOCAL_2 = bytes.fromhex("fe80000000000000000000fffe000002")


def test_a_full_127_byte_frame_takes_4256_us_and_an_ack_352() -> None:
    assert airtime(127) == pytest.approx(4.256e-3)
    assert airtime(5) == pytest.approx(352e-6)


@pytest.mark.parametrize(("hop_limit", "length"), [(64, 2), (255, 2), (1, 2), (17, 3)])
def test_iphc_between_link_local_addresses_from_the_mac_is_2_bytes(hop_limit: int,
                                                                     length: int) -> None:
    # next header inline (ICMPv6 58) is 1 more: counted apart; here TCP-less: NH=58 inline
    packet = ipv6(LINK_LOCAL_1, LINK_LOCAL_2, 58, b"\x80\x00\x00\x00", hop_limit)
    header, _ = iphc.compress(packet, src_ll=LL1, dst_ll=LL2, contexts={})
    frag, head, nhc = lowpan_header_lengths(header + packet[40:])
    # 2 IPHC bytes + the inline next header (58) + the hop limit when not 1/64/255
    assert (frag, head, nhc) == (0, length + 1, 0)


def test_iphc_with_udp_nhc_link_local() -> None:
    packet = udp(LINK_LOCAL_1, LINK_LOCAL_2, 5683, 5683, b"x")
    header, consumed = iphc.compress(packet, src_ll=LL1, dst_ll=LL2, contexts={})
    assert lowpan_header_lengths(header + b"x") == (0, 2, 7)  # NHC 0xF0: 4 port bytes inline
    assert consumed == 48


def test_frag1_is_4_bytes_and_fragn_5() -> None:
    packet = udp(address(1), address(2), 5683, 5683, bytes(300))
    payloads = fragment(packet, src_ll=LL1, dst_ll=LL2, contexts=ADAPTER.contexts, tag=7,
                        max_payload=ADAPTER.max_payload)
    assert len(payloads) == 3
    assert lowpan_header_lengths(payloads[0]) == (FRAG1_LENGTH, 2, 7) == (4, 2, 7)
    assert lowpan_header_lengths(payloads[1]) == (FRAGN_LENGTH, 0, 0) == (5, 0, 0)


def test_reserved_and_unknown_dispatches_name_the_offset() -> None:
    with pytest.raises(FrameError, match="offset 0: 6LoWPAN dispatch 0x01"):
        lowpan_header_lengths(b"\x01\x02\x03")
    with pytest.raises(FrameError, match="offset 1: IPHC reserved"):
        iphc_shape(0x60, 0x04)  # DAC=1 DAM=00 unicast is reserved
    with pytest.raises(FrameError, match="offset 0: empty"):
        lowpan_header_lengths(b"")


addresses = st.sampled_from([
    LINK_LOCAL_1, LINK_LOCAL_2, address(1), address(7),
    bytes.fromhex("fe80" + "00" * 6 + "1122334455667788"),
    bytes.fromhex("fd00" + "00" * 6 + "00000000000000aa"), bytes.fromhex("20010db8" + "11" * 12),
    bytes.fromhex("ff020000000000000000000000000001"),
    bytes.fromhex("ff050000000000000000000000fb0001"),
    bytes.fromhex("ff0e0000000000000000000012345678"), bytes.fromhex("ff1e" + "ab" * 14),
])


@given(src=addresses, dst=addresses, hop_limit=st.integers(0, 255),
       next_header=st.sampled_from([6, 17, 58]), tc=st.integers(0, 255),
       flow=st.sampled_from([0, 1, 0xABCDE]), sport=st.sampled_from([5683, 0xF0B1, 0xF012, 1]),
       dport=st.sampled_from([5683, 0xF0B2, 0xF0FF, 80]))
def test_header_lengths_equal_what_the_codec_consumes(src: bytes, dst: bytes, hop_limit: int,
                                                      next_header: int, tc: int, flow: int,
                                                      sport: int, dport: int) -> None:
    packet = bytearray(udp(src, dst, sport, dport, b"pay") if next_header == 17 else
                       ipv6(src, dst, next_header, b"payload!"))
    packet[0:4] = (0x60000000 | tc << 20 | flow).to_bytes(4, "big")
    packet[7] = hop_limit
    header, _ = iphc.compress(bytes(packet), src_ll=LL1, dst_ll=LL2,
                              contexts={0: PREFIX.network_address.packed[:8]})
    _, consumed = iphc.decompress(header + b"rest", src_ll=LL1, dst_ll=LL2,
                                  contexts={0: PREFIX.network_address.packed[:8]})
    frag, head, nhc = lowpan_header_lengths(header + b"rest")
    assert frag == 0 and head + nhc == consumed == len(header)


def test_contiki_rpl_headers_are_lowpan_and_the_udp_nhc_transport() -> None:
    # frame 63 of data/contiki-coap-get.pcap: IPHC 7e f0 00 + 16-byte destination (19),
    # NHC e1 06 + RPL option (8), UDP NHC f0 + ports + checksum (7)
    lowpan = bytes.fromhex("7ef000fd010000000000000000000000000001e106630400000157"
                           "f01633c370702d") + b"coap"
    assert lowpan_header_lengths(lowpan) == (0, 19 + 8, 7)


@given(chained())
def test_lengths_of_every_nhc_chain_are_what_the_codec_consumes(case) -> None:
    """RFC 6282 §4.2 chains of any extension headers and IPv6-in-IPv6: the lengths read
    from the first bytes end where decompression ends; UDP's NHC alone is transport."""
    packet, src_ll, dst_ll, protos = case
    header, used = iphc.compress(packet, src_ll=src_ll, dst_ll=dst_ll,
                                 contexts={0: PREFIX.network_address.packed[:8]},
                                 extension_nhc=True)
    frag, head, nhc = lowpan_header_lengths(header + packet[used:])
    assert frag == 0 and head + nhc == len(header)
    assert nhc == (_udp_nhc_length(packet, protos) if protos[-1] == UDP else 0)


def _udp_nhc_length(packet: bytes, protos: list[int]) -> int:
    """RFC 6282 §4.3.3 by the ports: 1 + 4, 3 or 1 port bytes + 2 checksum bytes."""
    o = 40
    for proto in protos[:-1]:  # RFC 8200 §4 chain: IPv6 40, fragment 8, others by length
        o += 40 if proto == 41 else 8 if proto == 44 else (packet[o + 1] + 1) * 8
    sport, dport = int.from_bytes(packet[o:o + 2], "big"), int.from_bytes(packet[o + 2:o + 4],
                                                                          "big")
    if sport >> 4 == 0xF0B and dport >> 4 == 0xF0B:
        return 4
    return 6 if dport >> 8 == 0xF0 or sport >> 8 == 0xF0 else 7
