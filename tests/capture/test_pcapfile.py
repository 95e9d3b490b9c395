"""The pcap reader against scapy's rdpcap, and damaged files naming the byte offset."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import PcapWriter as ScapyPcapWriter
from scapy.all import Raw, rdpcap

from testbed.capture.pcapfile import LINKTYPE_IEEE802_15_4_WITHFCS, read_frames
from testbed.errors import BadInput
from testbed.lowpan import mac
from testbed.capture.pcapwriter import PcapWriter


def write_with_scapy(path: Path, frames: list[tuple[float, bytes]], nano: bool = False) -> None:
    writer = ScapyPcapWriter(str(path), linktype=LINKTYPE_IEEE802_15_4_WITHFCS, nano=nano,
                             sync=True)
    for t, psdu in frames:
        packet = Raw(psdu)
        packet.time = t
        writer.write(packet)
    writer.close()


psdus = st.lists(st.tuples(st.integers(1_600_000_000, 1_900_000_000).map(float),
                           st.binary(min_size=5, max_size=127)), max_size=20)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=psdus, nano=st.booleans())
def test_same_frames_and_times_as_scapy(tmp_path: Path, frames: list[tuple[float, bytes]],
                                        nano: bool) -> None:
    path = tmp_path / "c.pcap"
    write_with_scapy(path, frames, nano=nano)
    ours = read_frames(path)
    theirs = rdpcap(str(path))  # dissected as Dot15d4FCS; .original = the bytes read
    assert [f.psdu for f in ours] == [p.original for p in theirs] == [p for _, p in frames]
    assert [f.time for f in ours] == pytest.approx([float(p.time) for p in theirs])


def test_reads_what_the_medium_writes_and_tells_acks(tmp_path: Path) -> None:
    path = tmp_path / "medium.pcap"
    data = mac.encode_data(seq=7, pan_id=0xABCD, dst=1, dst_mode=mac.AddrMode.SHORT, src=2,
                           src_mode=mac.AddrMode.SHORT, payload=b"\x41hello", ack_request=True)
    with PcapWriter(path, t0_unix=1.7e9) as writer:
        writer.write(0.0, data)
        writer.write(0.001, mac.encode_ack(7))
    frames = read_frames(path)
    assert [f.psdu for f in frames] == [data, mac.encode_ack(7)]
    assert [f.is_ack for f in frames] == [False, True]
    assert [len(f.psdu) for f in frames] == [len(data), 5]


def test_a_truncated_frame_names_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    write_with_scapy(path, [(1.7e9, b"\x41" * 20), (1.7e9, b"\x42" * 30)])
    full = path.read_bytes()
    path.write_bytes(full[:-5])
    second_record = 24 + 16 + 20
    with pytest.raises(BadInput, match=rf"offset {second_record + 16}: truncated frame "
                                       r"\(25 of 30 bytes\)"):
        read_frames(path)
    path.write_bytes(full[: second_record + 7])
    with pytest.raises(BadInput, match=rf"offset {second_record}: truncated record header"):
        read_frames(path)


def test_not_a_pcap_or_another_link_type(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))  # pcapng
    with pytest.raises(BadInput, match=r"offset 0: not a pcap file \(magic 0a0d0d0a\)"):
        read_frames(path)
    path.write_bytes(b"\xd4\xc3\xb2")
    with pytest.raises(BadInput, match=r"offset 0: truncated pcap global header"):
        read_frames(path)
    writer = ScapyPcapWriter(str(path), linktype=1, sync=True)
    writer.write(Raw(b"\x00" * 14))
    writer.close()
    with pytest.raises(BadInput, match=r"offset 20: link type 1, expected 195"):
        read_frames(path)
    assert len(read_frames(path, linktype=None)) == 1
