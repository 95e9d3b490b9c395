"""The medium's sensniff peripheral on a pty, read back through pyserial."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from testbed.capture.frames import CaptureError
from testbed.capture.sensniff import MAGIC, VERSION
from testbed.capture.sensniff_pty import SensniffPty
from testbed.capture.serial_source import SensniffSource
from testbed.lowpan.mac import encode_ack


@pytest.fixture
def peripheral(tmp_path: Path):
    pty = SensniffPty(tmp_path / "sniffer", channel=26).open()
    stop = threading.Event()

    def answer() -> None:
        while not stop.wait(0.01):
            pty.poll()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        yield pty
    finally:
        stop.set()
        thread.join()
        pty.close()
    assert not (tmp_path / "sniffer").exists(), "close() removes the symlink"


def test_the_symlink_reaches_the_pty_and_frames_come_through(peripheral):
    with SensniffSource(str(peripheral.link)) as source:
        peripheral.write(encode_ack(5))
        [frame] = list(source.frames(count=1, duration_s=5))
    assert frame.psdu == encode_ack(5) and (frame.rssi, frame.lqi) == (0, 127)


def test_channel_get_set_and_range(peripheral):
    with SensniffSource(str(peripheral.link)) as source:
        assert source.get_channel() == 26
        assert source.channel_range() == (11, 26)
        assert source.set_channel(15) == 15
        peripheral.write(encode_ack(1))  # tuned away from the medium's channel: not heard
        assert source.set_channel(26) == 26
        peripheral.write(encode_ack(2))
        frames = list(source.frames(count=1, duration_s=5))
    assert [f.psdu for f in frames] == [encode_ack(2)]


def test_an_unknown_command_is_answered_not_supported(peripheral):
    with SensniffSource(str(peripheral.link)) as source:
        source._serial.write(MAGIC + bytes((VERSION, 0x90, 0, 0)))
        with pytest.raises(CaptureError, match="does not support SET_CHANNEL"):
            source.set_channel(200)  # out of 11..26: the peripheral refuses


def test_nobody_reading_drops_and_counts_and_never_blocks(tmp_path: Path):
    pty = SensniffPty(tmp_path / "sniffer", channel=26).open()
    try:
        for seq in range(20000):
            pty.write(encode_ack(seq & 0xFF))
        assert pty.dropped > 0 and pty.frames + pty.dropped == 20000
    finally:
        pty.close()
    assert os.path.lexists(tmp_path / "sniffer") is False
