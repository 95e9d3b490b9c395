"""A sensniff peripheral on a pseudo-terminal: the emulated medium's tap as a serial sniffer.

What it is: the peripheral end of the sensniff v2 protocol (sensniff.py) on a pty master, so
that the serial path (pyserial, SensniffSource) is exercised end to end with no board. The
medium calls `write(psdu)` for every frame on the air; the pty slave's path is published as a
symlink. Writes never block the medium: when nobody reads and the pty buffer is full, frames are
dropped and counted (`dropped`). Host commands (channel get/set) are answered in `poll()`: the
tap has one channel, the medium's; tuned to another one it hears nothing, as a board would.
RSSI and LQI are not modelled: every frame carries RSSI 0 dBm and LQI 127.
What it is not: a serial port reader (serial_source.py).
"""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path

from testbed.capture.sensniff import Command, CommandParser, encode, encode_frame

#: IEEE 802.15.4-2006 2.4 GHz O-QPSK channels
CHANNEL_MIN = 11
CHANNEL_MAX = 26


class SensniffPty:
    """`open()` makes the pty and the symlink at `link`; `close()` removes both."""

    def __init__(self, link: str | Path, *, channel: int) -> None:
        self.link = Path(link)
        self.medium_channel = channel
        self.channel = channel
        self.frames = 0
        self.dropped = 0
        self._master = -1
        self._slave = -1
        self._pending = b""
        self._parser = CommandParser()

    def open(self) -> SensniffPty:
        self._master, self._slave = os.openpty()
        os.set_blocking(self._master, False)
        tty.setraw(self._slave)  # no newline translation or echo: the stream is binary
        with contextlib.suppress(FileNotFoundError):
            if self.link.is_symlink():
                self.link.unlink()
        self.link.symlink_to(os.ttyname(self._slave))
        return self

    @property
    def slave_path(self) -> str:
        return os.ttyname(self._slave)

    def write(self, psdu: bytes) -> None:
        """One frame on the air; dropped (counted) if the reader is not keeping up."""
        if self._master < 0 or self.channel != self.medium_channel:
            return
        if not self._send(encode_frame(psdu)):
            self.dropped += 1
            return
        self.frames += 1

    def _send(self, data: bytes) -> bool:
        """Write `data` whole or not at all (a partial write finishes before anything else)."""
        if self._pending:
            self._pending = self._pending[self._write(self._pending):]
            if self._pending:
                return False
        written = self._write(data)
        if written == 0:
            return False
        self._pending = data[written:]
        return True

    def _write(self, data: bytes) -> int:
        try:
            return os.write(self._master, data)
        except (BlockingIOError, OSError):
            return 0

    def poll(self) -> None:
        """Answer the host's commands (sensniff.c `execute_command`)."""
        if self._master < 0:
            return
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, OSError):  # EIO: no slave open
            return
        for command, value in self._parser.feed(data):
            if command == Command.SET_CHANNEL and value is not None and (
                CHANNEL_MIN <= value <= CHANNEL_MAX
            ):
                self.channel = value
                self._send(encode(Command.CHANNEL, bytes((value,))))
            elif command == Command.GET_CHANNEL:
                self._send(encode(Command.CHANNEL, bytes((self.channel,))))
            elif command == Command.GET_CHANNEL_MIN:
                self._send(encode(Command.CHANNEL_MIN, bytes((CHANNEL_MIN,))))
            elif command == Command.GET_CHANNEL_MAX:
                self._send(encode(Command.CHANNEL_MAX, bytes((CHANNEL_MAX,))))
            else:
                self._send(encode(Command.ERR_NOT_SUPPORTED))

    def stats(self) -> dict[str, object]:
        return {"link": str(self.link), "frames": self.frames, "dropped": self.dropped}

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.link.is_symlink() and os.readlink(self.link) == self.slave_path:
                self.link.unlink()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
