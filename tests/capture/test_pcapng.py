"""pcapng reading, against tshark/editcap and scapy, and on hand-made blocks."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.capture.pcapng import iter_packets
from testbed.errors import BadInput
from testbed.lowpan.fcs import fcs_bytes
from testbed.lowpan.mac import AddrMode, encode_ack, encode_data

needs_tshark = pytest.mark.skipif(shutil.which("editcap") is None, reason="apt-get install tshark")


def block(order: str, kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack(order + "II", kind, total) + body + struct.pack(order + "I", total)


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(order: str) -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(order: str, link_type: int = 195, tsresol: int | None = None, offset_s: int = 0) -> bytes:
    options = b""
    if tsresol is not None:
        options += option(order, 9, bytes((tsresol,)))
    if offset_s:
        options += option(order, 14, struct.pack(order + "q", offset_s))
    if options:
        options += struct.pack(order + "HH", 0, 0)
    return block(order, 1, struct.pack(order + "HHI", link_type, 0, 0) + options)


def epb(order: str, units: int, data: bytes, interface: int = 0) -> bytes:
    return block(order, 6, struct.pack(order + "IIIII", interface, units >> 32, units & 0xFFFFFFFF,
                                       len(data), len(data)) + data)


def spb(order: str, data: bytes) -> bytes:
    return block(order, 3, struct.pack(order + "I", len(data)) + data)


FRAME = encode_data(seq=9, pan_id=0xABCD, dst=2, dst_mode=AddrMode.SHORT, src=1,
                    src_mode=AddrMode.SHORT, payload=b"\x41" + bytes(40), ack_request=True)


@pytest.mark.parametrize("order", ["<", ">"])
def test_both_byte_orders_resolutions_offset_simple_packets_and_sections(order, tmp_path):
    data = (shb(order) + idb(order, tsresol=9) + idb(order, tsresol=0x80 | 10, offset_s=100)
            + epb(order, 1_700_000_000_123_456_789, FRAME)
            + block(order, 5, b"\0" * 12)                  # interface statistics: skipped
            + epb(order, 3 * 1024 + 512, encode_ack(9), interface=1)
            + spb(order, FRAME)
            + shb(order) + idb(order) + epb(order, 2_500_000, encode_ack(1)))
    packets = list(iter_packets(data))
    assert [p.data for p in packets] == [FRAME, encode_ack(9), FRAME, encode_ack(1)]
    assert packets[0].time == pytest.approx(1_700_000_000.123456789, abs=1e-6)
    assert packets[1].time == 103.5 and packets[2].time == 103.5  # SPB: previous packet's time
    assert packets[3].time == 2.5
    if shutil.which("tshark"):
        path = tmp_path / "made.pcapng"
        path.write_bytes(data)
        out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.len"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out == [str(len(p.data)) for p in packets]


@needs_tshark
def test_editcap_pcapng_of_our_pcap_reads_the_same(tmp_path: Path):
    from testbed.capture.frames import SniffedFrame, write_pcap
    from testbed.capture.replay import PcapSource

    frames = [SniffedFrame(1_700_000_000 + i * 0.001234, p, "test")
              for i, p in enumerate([FRAME, encode_ack(9), FRAME[:-2] + fcs_bytes(FRAME[:-2])])]
    ours = tmp_path / "ours.pcap"
    write_pcap(frames, ours)
    converted = tmp_path / "converted.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(ours), str(converted)], check=True)
    replayed = list(PcapSource(converted))
    assert [f.psdu for f in replayed] == [f.psdu for f in frames]
    assert [round(f.time, 6) for f in replayed] == [round(f.time, 6) for f in frames]


def test_scapy_wrpcapng_reads_the_same(tmp_path: Path):
    from scapy.layers.dot15d4 import Dot15d4FCS
    from scapy.utils import rdpcap, wrpcapng

    path = tmp_path / "scapy.pcapng"
    packets = [Dot15d4FCS(FRAME), Dot15d4FCS(encode_ack(3))]
    packets[0].time, packets[1].time = 1000.25, 1000.5
    wrpcapng(str(path), packets)
    ours = list(iter_packets(path.read_bytes()))
    theirs = rdpcap(str(path))
    assert [p.data for p in ours] == [bytes(p) for p in theirs]
    assert [p.time for p in ours] == [float(p.time) for p in theirs]
    assert {p.link_type for p in ours} == {195}


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: d[:-3], r"offset \d+: truncated block"),
    (lambda d: d[:-4] + b"\x99\0\0\0", r"offset \d+: block length 153 at the end"),
    (lambda d: d[:8] + b"\x01\x02\x03\x04" + d[12:], r"offset 8: bad byte-order magic"),
    (lambda d: d[:4] + b"\x0d\0\0\0" + d[8:], r"offset 4: implausible block length 13"),
    (lambda d: d + b"\x06\0\0", r"truncated block header"),
])
def test_damage_names_the_offset(damage, message):
    data = shb("<") + idb("<") + epb("<", 1, FRAME)
    with pytest.raises(BadInput, match=message):
        list(iter_packets(damage(data)))


def test_a_packet_on_an_undescribed_interface_is_bad_input():
    with pytest.raises(BadInput, match="interface 1, but only 1 described"):
        list(iter_packets(shb("<") + idb("<") + epb("<", 1, FRAME, interface=1)))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["<", ">"]), st.integers(0, 9),
       st.lists(st.tuples(st.integers(0, 2**63), st.binary(min_size=5, max_size=127)), max_size=8))
def test_random_blocks_round_trip(order, decimals, packets):
    data = shb(order) + idb(order, tsresol=decimals) + b"".join(
        epb(order, units, payload) for units, payload in packets)
    read = list(iter_packets(data))
    assert [(p.data, p.original_length) for p in read] == [(d, len(d)) for _, d in packets]
    assert [p.time for p in read] == [u / 10 ** decimals for u, _ in packets]
