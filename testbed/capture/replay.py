"""Replay a capture file as a stream of `SniffedFrame`s: classic pcap (either byte order, micro-
or nanosecond), pcapng, either of them gzip-compressed (Cooja's radio logger can write
`radiolog-*.pcap.gz`).

Link types: 195 (LINKTYPE_IEEE802_15_4_WITHFCS: the PSDU with its FCS, as Wireshark, the medium
and Cooja write: Cooja's PcapExporter writes a big-endian classic pcap with link type 195) is
taken as is; 230 (LINKTYPE_IEEE802_15_4_NOFCS) frames get their FCS computed and appended
(testbed.lowpan.fcs), so every source yields the same PSDU. Any other link type is a BadInput.
`fcs_errors` counts frames of link type 195 whose FCS does not match (a sniffer may keep bad
frames; a simulator may write none), unless `check_fcs=False` leaves that to a reader that
checks every frame anyway (the analysis: mac.decode). What it is not: a dissector.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

from testbed.capture.frames import CaptureError, SniffedFrame
from testbed.capture.pcapfile import link_type, parse_records
from testbed.capture.pcapng import is_pcapng, iter_packets
from testbed.errors import BadInput
from testbed.lowpan.fcs import fcs_bytes

LINKTYPE_IEEE802_15_4_WITHFCS = 195
LINKTYPE_IEEE802_15_4_NOFCS = 230
LINK_TYPES = {LINKTYPE_IEEE802_15_4_WITHFCS: "IEEE 802.15.4 with FCS",
              LINKTYPE_IEEE802_15_4_NOFCS: "IEEE 802.15.4 without FCS"}


class PcapSource:
    """`for frame in PcapSource("capture.pcapng"): ...`; no I/O before iteration."""

    def __init__(self, path: str | Path, *, check_fcs: bool = True) -> None:
        self.path = Path(path)
        self.check_fcs = check_fcs
        self.name = f"pcap:{self.path}"
        self.fcs_errors = 0
        self.frames = 0

    def _data(self) -> bytes:
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise CaptureError(f"{self.path}: cannot read capture ({error.strerror})") from None
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as error:
                raise CaptureError(f"{self.path}: damaged gzip stream: {error}") from None
        return data

    def __iter__(self) -> Iterator[SniffedFrame]:
        for time, psdu in self.records():
            yield SniffedFrame(time=time, psdu=psdu, source=self.name)

    def records(self) -> Iterator[tuple[float, bytes]]:
        """(time, PSDU) pairs: the frames `iter()` yields without a `SniffedFrame` each (the
        analysis reads a million of them). A classic pcap of link type 195 whose FCS is left
        to the reader needs nothing done per frame: its records are handed on as they are."""
        data = self._data()
        name = str(self.path)
        try:
            if is_pcapng(data):
                for packet in iter_packets(data, name):
                    self._check(packet.link_type, packet.offset)
                    yield packet.time, self._psdu(packet.data, packet.link_type)
            else:
                kind = link_type(data, name)
                self._check(kind, 20)
                if kind == LINKTYPE_IEEE802_15_4_WITHFCS and not self.check_fcs:
                    for time, psdu, _ in parse_records(data, name, linktype=None):
                        self.frames += 1
                        yield time, psdu
                    return
                for time, psdu, _ in parse_records(data, name, linktype=None):
                    yield time, self._psdu(psdu, kind)
        except BadInput as error:
            message = str(error)
            raise CaptureError(message if message.startswith(name) else f"{name}: {message}"
                               ) from None

    def _check(self, kind: int, offset: int) -> None:
        if kind not in LINK_TYPES:
            raise CaptureError(f"{self.path}: offset {offset}: link type {kind} is not "
                               "IEEE 802.15.4 (195 with FCS or 230 without)")

    def _psdu(self, data: bytes, kind: int) -> bytes:
        if kind == LINKTYPE_IEEE802_15_4_NOFCS:
            psdu = data + fcs_bytes(data)
        else:
            psdu = data
            if self.check_fcs and (len(data) < 2 or fcs_bytes(data[:-2]) != data[-2:]):
                self.fcs_errors += 1
        self.frames += 1
        return psdu
