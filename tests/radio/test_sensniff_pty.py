"""End to end: the medium's tap as a sensniff stream on a pty, read through pyserial.

A 2-node network with the option on; ping; SensniffSource reads the pty (the symlink the medium
publishes), FrameSink writes a pcap; it holds exactly the frames of the medium's capture.pcap
that went on the air while the sniffer was listening, in order, byte for byte.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.backends.emulated import EmulatedNetwork
from testbed.capture.frames import FrameSink
from testbed.capture.pcapfile import read_frames
from testbed.capture.serial_source import SensniffSource
from testbed.config.topology import parse_topology
from testbed.experiment.run import Run
from tests.topologies import PAIR

pytestmark = pytest.mark.slow



def test_the_pty_stream_holds_exactly_the_frames_of_the_capture(tmp_path: Path):
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN: run as root (sudo make test)")
    topology = parse_topology(PAIR, "pair.yaml")
    run = Run.create(topology_name=topology.name, out=tmp_path, seed=1)
    sniffed = tmp_path / "sniffed.pcap"
    with EmulatedNetwork.up(topology, run=run, sensniff=True) as net:
        link = net.sensniff_path
        assert link.is_symlink()
        with SensniffSource(str(link), read_timeout_s=0.05) as source, FrameSink(sniffed) as sink:
            opened = time.time()
            stop = threading.Event()

            def pump() -> None:
                while not stop.is_set():
                    for frame in source.read():
                        sink.write(frame)

            reader = threading.Thread(target=pump)
            reader.start()
            try:
                ping = net.exec("n1", ["ping", "-6", "-c", "4", "-i", "0.2", "-s", "200", "-W", "2",
                                       str(net.address("br"))],
                                capture_output=True, text=True, timeout=60)
                time.sleep(0.5)  # the last ACK reaches the reader
            finally:
                stop.set()
                reader.join()
            closed = time.time()
            skipped = list(source.decoder.skipped)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        capture, stats = net.capture_path, net.stats_path
    assert not link.exists(), "the medium removes its symlink"
    air = read_frames(capture)
    got = read_frames(sniffed)
    assert skipped == []
    assert len(got) >= 4 * 2 * 2 * 2  # 4 echo exchanges, each way fragmented (200 B), with ACKs
    # the sniffer heard a contiguous stretch of the air: everything between opening and closing
    start = next(i for i, f in enumerate(air) if f.psdu == got[0].psdu and f.time >= opened - 0.5)
    assert [f.psdu for f in air[start:start + len(got)]] == [f.psdu for f in got]
    assert all(f.time < opened + 0.05 for f in air[:start])
    assert all(f.time > closed - 0.6 for f in air[start + len(got):])
    for heard, sent in zip(got, air[start:]):  # arrival follows the start of the frame on the air
        assert -0.05 < heard.time - sent.time < 0.5
    medium = json.loads(stats.read_text())
    assert medium["sensniff"]["frames"] == len(air) and medium["sensniff"]["dropped"] == 0
