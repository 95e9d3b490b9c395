"""Replaying capture files of other tools as SniffedFrames."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from testbed.capture.frames import CaptureError, SniffedFrame, write_pcap
from testbed.capture.replay import PcapSource
from testbed.lowpan.mac import AddrMode, encode_ack, encode_data

FRAMES = [encode_data(seq=s, pan_id=0xABCD, dst=2, dst_mode=AddrMode.SHORT, src=1,
                      src_mode=AddrMode.SHORT, payload=bytes(range(s * 10)), ack_request=True)
          for s in (1, 2, 3)] + [encode_ack(3)]


def cooja_pcap(frames: list[bytes], start_us: int = 1_000_000) -> bytes:
    """As Cooja's PcapExporter writes it: Java DataOutputStream, big-endian, snaplen 4096."""
    out = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 4096, 195)
    for i, frame in enumerate(frames):
        ts = start_us + i * 1500
        out += struct.pack(">IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame
    return out


def test_cooja_radiolog_gzipped_big_endian(tmp_path: Path):
    path = tmp_path / "radiolog-1.pcap.gz"
    path.write_bytes(gzip.compress(cooja_pcap(FRAMES)))
    source = PcapSource(path)
    frames = list(source)
    assert [f.psdu for f in frames] == FRAMES
    assert [f.time for f in frames] == [1.0, 1.0015, 1.003, 1.0045]
    assert source.fcs_errors == 0 and frames[0].source == f"pcap:{path}"


def test_link_type_230_gets_its_fcs(tmp_path: Path):
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    path = tmp_path / "nofcs.pcap"
    wrpcap(str(path), [Raw(f[:-2]) for f in FRAMES], linktype=230)
    assert [f.psdu for f in PcapSource(path)] == FRAMES


def test_our_own_pcap_round_trips_and_bad_fcs_is_counted(tmp_path: Path):
    path = tmp_path / "ours.pcap"
    bad = FRAMES[0][:-1] + bytes((FRAMES[0][-1] ^ 1,))
    write_pcap([SniffedFrame(10.5, f, "x") for f in FRAMES + [bad]], path)
    source = PcapSource(path)
    assert [f.psdu for f in source] == FRAMES + [bad]
    assert source.fcs_errors == 1
    unchecked = PcapSource(path, check_fcs=False)  # a reader that checks each frame itself
    assert [f.psdu for f in unchecked] == FRAMES + [bad]
    assert unchecked.fcs_errors == 0 and unchecked.frames == len(FRAMES) + 1


def test_other_link_types_are_refused(tmp_path: Path):
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    path = tmp_path / "ether.pcap"
    wrpcap(str(path), [Ether()])
    with pytest.raises(CaptureError, match=r"offset 20: link type 1 is not IEEE 802.15.4"):
        list(PcapSource(path))


@pytest.mark.parametrize(("data", "message"), [
    (b"", r"offset 0: not a pcap file"),
    (b"\x1f\x8b\x08\x00garbage", r"damaged gzip"),
    (cooja_pcap(FRAMES)[:-3], r"offset \d+: truncated frame"),
])
def test_damaged_files_name_the_offset(tmp_path: Path, data: bytes, message: str):
    path = tmp_path / "bad.pcap"
    path.write_bytes(data)
    with pytest.raises(CaptureError, match=message):
        list(PcapSource(path))


def test_missing_file(tmp_path: Path):
    with pytest.raises(CaptureError, match="cannot read capture"):
        list(PcapSource(tmp_path / "nope.pcap"))
