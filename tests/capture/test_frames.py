"""The common frame record and the LINKTYPE 195 sink, checked with scapy and tshark."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from testbed.capture.frames import SniffedFrame, write_pcap
from testbed.lowpan.mac import encode_ack


def test_sink_writes_linktype_195_with_microsecond_times(tmp_path: Path):
    from scapy.utils import PcapReader

    frames = [SniffedFrame(1_700_000_000.123456, encode_ack(1), "a"),
              SniffedFrame(1_700_000_001.5, encode_ack(2), "a", rssi=-50, lqi=100)]
    path = tmp_path / "out.pcap"
    assert write_pcap(frames, path) == 2
    with PcapReader(str(path)) as reader:
        assert reader.linktype == 195
        packets = list(reader)
    assert [bytes(p) for p in packets] == [f.psdu for f in frames]
    assert [round(float(p.time), 6) for p in packets] == [f.time for f in frames]
    assert frames[0].is_ack
    if shutil.which("tshark"):
        ok = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "wpan.fcs_ok"],
                            capture_output=True, text=True, check=True).stdout.split()
        assert len(ok) == 2 and set(ok) <= {"1", "True"}
