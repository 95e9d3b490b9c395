"""SensniffSource through pyserial on a real pty: the acceptance test of the sensniff path."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import tty
from pathlib import Path

import pytest

from testbed.capture.frames import CaptureError, FrameSink
from testbed.capture.pcapfile import read_frames
from testbed.capture.sensniff import encode_frame
from testbed.capture.serial_source import SensniffSource
from testbed.lowpan.mac import AddrMode, encode_ack, encode_data


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def data_frame(seq: int, size: int) -> bytes:
    return encode_data(seq=seq, pan_id=0xABCD, dst=2, dst_mode=AddrMode.SHORT, src=1,
                       src_mode=AddrMode.SHORT, payload=bytes(range(size)), ack_request=True)


GOOD = [data_frame(1, 20), encode_ack(1), data_frame(2, 100), encode_ack(2), data_frame(3, 3)]


def test_garbage_truncated_frame_and_wrong_magic_leave_exactly_the_good_frames(pty_pair, tmp_path):
    master, slave = pty_pair
    encoded = [encode_frame(p, rssi=-60, lqi=90) for p in GOOD]
    stream = (b"sensniff: booting\r\n" + encoded[0] + encoded[1]
              + encoded[2][:30]                        # truncated: the board reset mid-frame
              + encoded[2] + b"\x00\xff\xc1\x1f"       # garbage with half a magic
              + b"\xc1\x1f\xfe\x71" + encoded[3][4:]  # wrong magic
              + encoded[3] + encoded[4])
    out = tmp_path / "sniffed.pcap"
    with SensniffSource(slave, read_timeout_s=0.05) as source, FrameSink(out) as sink:
        writer = threading.Thread(target=lambda: [os.write(master, stream[i:i + 7])
                                                  for i in range(0, len(stream), 7)])
        writer.start()
        for frame in source.frames(count=len(GOOD), duration_s=10):
            sink.write(frame)
        writer.join()
        reasons = {s.reason for s in source.decoder.skipped}
    assert [f.psdu for f in read_frames(out)] == GOOD
    assert reasons == {"garbage", "torn"}
    if shutil.which("tshark"):
        lengths = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.len",
                                  "-e", "wpan.fcs_ok"], capture_output=True, text=True,
                                 check=True).stdout.split("\n")
        assert [line.split("\t")[0] for line in lengths if line] == [str(len(p)) for p in GOOD]
        assert all(line.split("\t")[1] in ("1", "True") for line in lengths if line)


def test_frames_carry_rssi_lqi_source_and_arrival_time(pty_pair):
    master, slave = pty_pair
    before = time.time()
    with SensniffSource(slave) as source:  # opening flushes what the port held (pyserial)
        os.write(master, encode_frame(GOOD[0], rssi=-77, lqi=33))
        [frame] = list(source.frames(count=1, duration_s=5))
    assert (frame.psdu, frame.rssi, frame.lqi, frame.source) == (GOOD[0], -77, 33,
                                                                 f"sensniff:{slave}")
    assert before <= frame.time <= time.time()


def test_a_last_frame_whose_lqi_byte_looks_like_a_header_arrives_once_the_line_is_quiet(
        pty_pair):
    """LQI 65 + CRC OK is 0xC1, the magic's first byte: the decoder holds that frame for the
    bytes after it; a read timeout with none delivers it (else a run's last frame is lost)."""
    master, slave = pty_pair
    with SensniffSource(slave) as source:
        os.write(master, encode_frame(GOOD[1], rssi=-50, lqi=65))
        frames = list(source.frames(count=1, duration_s=5))
    assert [(f.psdu, f.lqi) for f in frames] == [(GOOD[1], 65)]


def test_a_missing_port_is_one_clear_error(tmp_path: Path):
    with pytest.raises(CaptureError, match="cannot open the sniffer's serial port"):
        SensniffSource(str(tmp_path / "ttyACM9")).open()


def test_no_answer_to_a_command_says_so(pty_pair):
    _master, slave = pty_pair
    with SensniffSource(slave) as source, pytest.raises(CaptureError, match="no answer to GET"):
        source.get_channel(timeout_s=0.3)


def test_any_pyserial_url_works_here_loop():
    # loop:// echoes what is written: the same serial_for_url path rfc2217:// takes
    with SensniffSource("loop://", read_timeout_s=0.05) as source:
        source._serial.write(b"noise" + encode_frame(GOOD[1], rssi=-3, lqi=7))
        [frame] = list(source.frames(count=1, duration_s=5))
    assert (frame.psdu, frame.rssi, frame.lqi) == (GOOD[1], -3, 7)
    assert source.decoder.skipped[0].length == 5
