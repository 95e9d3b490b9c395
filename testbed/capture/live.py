"""One line per frame for the console, decoded with scapy (Dot15d4FCS + 6LoWPAN).

What it is: `describe(frame) -> FrameLine`, the columns `testbed sniff` prints (length, source,
destination, sequence number, and an Info text in the manner of Wireshark's Info column). scapy
is the reference decoder and is slow (about 100 µs a frame): fine for a console, not for bulk
analysis (testbed.lowpan / testbed.analysis do that). What it is not: an accounting of bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from scapy.config import conf
from scapy.layers.dot15d4 import Dot15d4Ack, Dot15d4Cmd, Dot15d4Data, Dot15d4FCS
from scapy.layers.inet6 import IPv6
from scapy.layers.sixlowpan import (
    LoWPAN_IPHC, LoWPANFragmentationFirst, LoWPANFragmentationSubsequent,
)

from testbed.capture.frames import SniffedFrame
from testbed.lowpan.fcs import fcs_bytes

#: IANA protocol numbers a FRAG1's IPHC may carry inline (RFC 6282 §3.1.1, NH = 0)
NEXT_HEADERS = {6: "TCP", 17: "UDP", 58: "ICMPv6"}
FRAME_TYPES = {0: "Beacon", 1: "Data", 2: "Ack", 3: "Command"}


@dataclass(frozen=True, slots=True)
class FrameLine:
    length: int
    src: str
    dst: str
    seq: int | None
    info: str


@contextlib.contextmanager
def _sixlowpan() -> Iterator[None]:
    """scapy picks the Dot15d4 payload decoder from a global: set it, and put it back."""
    previous = conf.dot15d4_protocol
    conf.dot15d4_protocol = "sixlowpan"
    try:
        yield
    finally:
        conf.dot15d4_protocol = previous


def _address(value: int | None, mode: int) -> str:
    if value is None or mode == 0:
        return "-"
    if mode == 2:
        return "broadcast" if value == 0xFFFF else f"0x{value:04x}"
    return ":".join(f"{b:02x}" for b in value.to_bytes(8, "big"))


def _iphc_info(iphc: LoWPAN_IPHC) -> str:
    inner = iphc.getlayer(IPv6)
    if inner is not None and inner.payload:
        return f"{inner.src} -> {inner.dst} {inner.payload.summary().split(' / ')[0]}"
    nh = getattr(iphc, "nhField", None)
    return NEXT_HEADERS.get(nh, "IPv6") if nh is not None and not iphc.nh else "IPv6"


def describe(frame: SniffedFrame) -> FrameLine:
    """The console line of one frame (an undecodable frame says so, it never raises)."""
    with _sixlowpan():
        try:
            packet = Dot15d4FCS(frame.psdu)
        except Exception as error:  # scapy raises anything on garbage  # noqa: BLE001
            return FrameLine(len(frame.psdu), "-", "-", None, f"undecodable: {error}")
    seq = packet.seqnum if len(frame.psdu) >= 3 else None
    frame_type = packet.fcf_frametype
    src = _address(getattr(packet, "src_addr", None), packet.fcf_srcaddrmode)
    dst = _address(getattr(packet, "dest_addr", None), packet.fcf_destaddrmode)
    bad = "" if fcs_bytes(frame.psdu[:-2]) == frame.psdu[-2:] else " [bad FCS]"
    if packet.haslayer(Dot15d4Ack) or frame_type == 2:
        info = "Ack" + (" (frame pending)" if packet.fcf_pending else "")
    elif packet.haslayer(LoWPANFragmentationFirst):
        first = packet[LoWPANFragmentationFirst]
        inner = packet.getlayer(LoWPAN_IPHC)
        what = _iphc_info(inner) if inner is not None else ""
        info = f"FRAG1 size={first.datagramSize} tag={first.datagramTag} {what}".rstrip()
    elif packet.haslayer(LoWPANFragmentationSubsequent):
        frag = packet[LoWPANFragmentationSubsequent]
        info = (f"FRAGN size={frag.datagramSize} tag={frag.datagramTag} "
                f"offset={frag.datagramOffset * 8}")
    elif packet.haslayer(LoWPAN_IPHC):
        info = _iphc_info(packet[LoWPAN_IPHC])
    elif packet.haslayer(Dot15d4Cmd):
        info = packet[Dot15d4Cmd].summary()
    elif packet.haslayer(Dot15d4Data):
        info = f"Data, {len(packet[Dot15d4Data].payload)} bytes"
    else:
        info = FRAME_TYPES.get(frame_type, f"frame type {frame_type}")
    if frame_type in (0, 1, 3) and packet.fcf_ackreq:
        info += " [ack requested]"
    return FrameLine(len(frame.psdu), src, dst, seq, info + bad)
