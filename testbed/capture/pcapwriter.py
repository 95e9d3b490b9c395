"""A pcap writer for IEEE 802.15.4 frames (LINKTYPE_IEEE802_15_4_WITHFCS): the medium's tap and
every sniffer source write through it; `pcapfile` is its reader.

What it is: the classic libpcap file format (magic 0xa1b2c3d4, microsecond
timestamps), link type 195: each record is a PSDU, MHR to FCS included, as a
sniffer sees it (Cooja and sensniff captures use the same link type). Timestamps
are `t0_unix` + the modelled start of the frame on the air. What it is not: a
reader (pcapfile.py reads; scapy and tshark are the oracles), nor pcapng.

Records are written in the order `write()` is called; the medium calls it when a
transmission starts, which is start-time order. The file is flushed at least
every `flush_interval_s` of wall-clock time so a crashed medium keeps what it
captured up to then.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import IO

from testbed.capture.pcapfile import LINKTYPE_IEEE802_15_4_WITHFCS

PCAP_MAGIC = 0xA1B2C3D4
#: Larger than aMaxPHYPacketSize (127): nothing on this link type is ever cut.
SNAPLEN = 255

_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")


class PcapWriter:
    """Writes a pcap file frame by frame; open with `open()` or as a context manager."""

    def __init__(
        self, path: str | Path, *, t0_unix: float, flush_interval_s: float = 0.5
    ) -> None:
        self.path = Path(path)
        self.t0_unix = t0_unix
        self.flush_interval_s = flush_interval_s
        self.frames = 0
        self._file: IO[bytes] | None = None
        self._last_flush = 0.0

    def open(self) -> PcapWriter:
        self._file = open(self.path, "wb")  # noqa: SIM115
        self._file.write(
            _GLOBAL_HEADER.pack(PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_IEEE802_15_4_WITHFCS)
        )
        self._file.flush()
        self._last_flush = time.monotonic()
        return self

    def __enter__(self) -> PcapWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, start_s: float, psdu: bytes) -> None:
        """Record `psdu` that went on the air `start_s` seconds after t0."""
        stamp = round((self.t0_unix + start_s) * 1_000_000)
        seconds, micros = divmod(stamp, 1_000_000)
        length = len(psdu)
        self._file.write(_RECORD_HEADER.pack(seconds, micros, length, length) + psdu)
        self.frames += 1
        now = time.monotonic()
        if now - self._last_flush >= self.flush_interval_s:
            self._file.flush()
            self._last_flush = now

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._last_flush = time.monotonic()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
