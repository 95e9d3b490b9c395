"""The capture file: read back by scapy and by tshark (the independent oracles)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from ipaddress import IPv6Network
from pathlib import Path

import pytest

from testbed.lowpan import mac
from testbed.lowpan.adapter import Adapter
from testbed.capture.pcapwriter import LINKTYPE_IEEE802_15_4_WITHFCS, PcapWriter

T0 = 1_700_000_000.25


def frames() -> list[tuple[float, bytes]]:
    """A real 6LoWPAN datagram (two fragments), its ACK, and a small data frame."""
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6

    adapter = Adapter(0xABCD, "short", IPv6Network("fd00::/64"))
    packet = bytes(IPv6(src="fd00::ff:fe00:1", dst="fd00::ff:fe00:2") / UDP(sport=40000,
                   dport=40001) / (b"r" * 150))
    first, second = adapter.to_frames(packet, 1, 2, seq=42, tag=7)
    assert len(first) > 100 and len(second) > 10
    return [(0.001, first), (0.0055, mac.encode_ack(42)), (1.000001, second)]


def write(path: Path) -> None:
    with PcapWriter(path, t0_unix=T0) as pcap:
        for start, psdu in frames():
            pcap.write(start, psdu)


def test_header_and_records(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    write(path)
    raw = path.read_bytes()
    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", raw)
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, LINKTYPE_IEEE802_15_4_WITHFCS)
    assert snaplen >= 127
    seconds, micros, incl, orig = struct.unpack_from("<IIII", raw, 24)
    assert (seconds, micros) == (1_700_000_000, 251_000)
    assert incl == orig == len(frames()[0][1])


def test_flushed_before_close(tmp_path: Path) -> None:
    """A crash after the flush interval keeps what was captured."""
    path = tmp_path / "c.pcap"
    pcap = PcapWriter(path, t0_unix=T0, flush_interval_s=0.0).open()
    pcap.write(0.0, mac.encode_ack(1))
    assert path.stat().st_size == 24 + 16 + 5
    pcap.close()


def test_scapy_reads_it(tmp_path: Path) -> None:
    from scapy.utils import rdpcap

    path = tmp_path / "c.pcap"
    write(path)
    packets = rdpcap(str(path))
    assert [bytes(p) for p in packets] == [psdu for _, psdu in frames()]
    assert [float(p.time) for p in packets] == pytest.approx([T0 + t for t, _ in frames()],
                                                             abs=1e-6)


@pytest.mark.skipif(shutil.which("tshark") is None,
                    reason="tshark not installed (apt install tshark)")
def test_tshark_reads_it_without_malformed_frames(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    write(path)
    fields = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.len", "-e", "wpan.seq_no",
         "-e", "wpan.frame_type", "-e", "wpan.fcs_ok"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split("\n")
    rows = [line.split("\t") for line in fields if line]
    assert [(int(r[0]), int(r[1])) for r in rows] == [(len(p), p[2]) for _, p in frames()]
    assert [int(r[2], 0) for r in rows] == [1, 2, 1]
    malformed = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "_ws.malformed"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    assert malformed == ""
