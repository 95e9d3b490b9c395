"""The one stream type every sniffer source yields, and the pcap sink for any such stream.

What it is: `SniffedFrame` (arrival or capture time, PSDU from MHR to FCS, optional RSSI/LQI,
the source's name) and `FrameSink`, which writes a LINKTYPE 195 (IEEE 802.15.4 with FCS) pcap
from any iterable of frames, reusing the medium's writer (testbed.capture.pcapwriter). What it is not:
a source (sensniff/serial_source.py, pcapng.py, the medium's pty) or a dissector.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import BadInput
from testbed.capture.pcapwriter import PcapWriter

#: IEEE 802.15.4-2015 §7.2.2.1: frame type = bits 0-2 of the Frame Control field
FRAME_TYPE_ACK = 2


class CaptureError(BadInput):
    """A capture source cannot be read: a serial port, a damaged file (names the byte offset)."""


@dataclass(frozen=True, slots=True)
class SniffedFrame:
    time: float  # seconds since the epoch
    psdu: bytes  # MAC header .. FCS (an FCS is computed and appended where a source lacks it)
    source: str  # "sensniff:/dev/ttyACM0", "pcap:capture.pcap", ...
    rssi: int | None = None  # dBm, as the sniffer reported it
    lqi: int | None = None

    @property
    def is_ack(self) -> bool:
        return bool(self.psdu) and self.psdu[0] & 0x07 == FRAME_TYPE_ACK


class FrameSink:
    """Writes frames to a LINKTYPE 195 pcap (microsecond timestamps); a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer = PcapWriter(self.path, t0_unix=0.0)

    @property
    def frames(self) -> int:
        return self._writer.frames

    def __enter__(self) -> FrameSink:
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, frame: SniffedFrame) -> None:
        self._writer.write(frame.time, frame.psdu)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def write_pcap(frames: Iterable[SniffedFrame], path: str | Path) -> int:
    """Write every frame of `frames` to `path`; the number written."""
    with FrameSink(path) as sink:
        for frame in frames:
            sink.write(frame)
        return sink.frames
