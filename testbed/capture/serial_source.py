"""A sensniff board on a serial port (or any pyserial URL: /dev/ttyACM0, rfc2217://host:port,
a pty): frames as they arrive, and the channel commands.

What it is: pyserial (`serial.serial_for_url`) + the sensniff v2 decoder (sensniff.py); each
frame is timestamped on arrival (time.time(), as the sensniff host tool does) and becomes a
`SniffedFrame` with the FCS recomputed (the sniffer sends RSSI/LQI in its place). What it is not:
a pcap writer (frames.FrameSink) or a decoder of what the frames hold.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator

import serial

from testbed.capture.frames import CaptureError, SniffedFrame
from testbed.capture.sensniff import Command, Decoder, Message, encode_command, frame_of

#: sensniff.py's default line speed (Contiki-NG's README recommends at least 460800)
BAUDRATE = 460800


class SensniffSource:
    """`with SensniffSource("/dev/ttyACM0") as sniffer: for frame in sniffer.frames(): ...`.
    The constructor does no I/O; `open()` opens the port, `close()` closes it."""

    def __init__(self, port: str, baudrate: int = BAUDRATE, *, read_timeout_s: float = 0.1) -> None:
        self.port = port
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self.name = f"sensniff:{port}"
        self.decoder = Decoder()
        self._serial: serial.SerialBase | None = None
        self._frames: deque[SniffedFrame] = deque()
        self._replies: dict[Command, int] = {}
        self._unsupported = 0

    def open(self) -> SensniffSource:
        try:
            self._serial = serial.serial_for_url(
                self.port, baudrate=self.baudrate, timeout=self.read_timeout_s,
                bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE, xonxoff=False, rtscts=False,
            )
        except (serial.SerialException, ValueError, OSError) as error:
            raise CaptureError(f"{self.port}: cannot open the sniffer's serial port: {error}"
                               ) from None
        return self

    def __enter__(self) -> SensniffSource:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    # -- reading -------------------------------------------------------------------------

    def _pump(self) -> None:
        """One read (up to read_timeout_s): decode, queue frames, note replies."""
        port = self._serial
        if port is None:
            raise CaptureError(f"{self.port}: the sniffer is not open")
        try:
            data = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError) as error:
            raise CaptureError(f"{self.port}: reading the sniffer failed: {error}") from None
        now = time.time()
        # a quiet line: a frame held back for a header that might have begun in its last
        # bytes is whole (the sniffer sends each message in one burst)
        messages = self.decoder.feed(data) if data else self.decoder.flush()
        for message in messages:
            self._handle(message, now)

    def _handle(self, message: Message, now: float) -> None:
        if message.command == Command.FRAME:
            frame = frame_of(message)
            self._frames.append(SniffedFrame(time=now, psdu=frame.psdu, source=self.name,
                                             rssi=frame.rssi, lqi=frame.lqi))
        elif message.command == Command.ERR_NOT_SUPPORTED:
            self._unsupported += 1
        else:
            self._replies[message.command] = message.payload[0]

    def read(self) -> list[SniffedFrame]:
        """The frames that arrived within one read timeout (maybe none)."""
        if not self._frames:
            self._pump()
        out = list(self._frames)
        self._frames.clear()
        return out

    def frames(self, *, count: int | None = None, duration_s: float | None = None
               ) -> Iterator[SniffedFrame]:
        """Frames as they arrive, until `count` frames or `duration_s` seconds (else forever)."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        seen = 0
        while count is None or seen < count:
            if deadline is not None and time.monotonic() >= deadline:
                return
            for frame in self.read():
                yield frame
                seen += 1
                if count is not None and seen >= count:
                    return

    # -- commands --------------------------------------------------------------------------

    def _ask(self, command: Command, reply: Command, timeout_s: float,
             channel: int | None = None) -> int:
        self._replies.pop(reply, None)
        unsupported = self._unsupported
        self._serial.write(encode_command(command, channel))
        self._serial.flush()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._pump()
            if reply in self._replies:
                return self._replies.pop(reply)
            if self._unsupported > unsupported:
                raise CaptureError(f"{self.port}: the sniffer does not support {command.name}")
        raise CaptureError(f"{self.port}: no answer to {command.name} within {timeout_s} s")

    def get_channel(self, timeout_s: float = 2.0) -> int:
        return self._ask(Command.GET_CHANNEL, Command.CHANNEL, timeout_s)

    def channel_range(self, timeout_s: float = 2.0) -> tuple[int, int]:
        return (self._ask(Command.GET_CHANNEL_MIN, Command.CHANNEL_MIN, timeout_s),
                self._ask(Command.GET_CHANNEL_MAX, Command.CHANNEL_MAX, timeout_s))

    def set_channel(self, channel: int, timeout_s: float = 2.0) -> int:
        """Tune the sniffer; the channel it confirms (CMD_CHANNEL)."""
        if not 0 <= channel <= 255:
            raise CaptureError(f"channel {channel} does not fit the sensniff command (0..255)")
        return self._ask(Command.SET_CHANNEL, Command.CHANNEL, timeout_s, channel)
