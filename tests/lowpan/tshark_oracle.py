"""tshark as the independent dissector: write PSDUs to a LINKTYPE 195 pcap, read fields back."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

needs_tshark = pytest.mark.skipif(
    shutil.which("tshark") is None, reason="tshark not installed (apt install tshark)"
)


def tshark_fields(
    psdus: list[bytes], fields: tuple[str, ...], directory: Path, *,
    context0: str = "fd00::/64", disable: tuple[str, ...] = ("udp", "tcp", "icmpv6"),
) -> list[dict[str, str]]:
    """One dict per frame: field -> last occurrence (empty when absent).

    ZigBee NWK is always disabled: its heuristic otherwise claims some FRAG1 frames
    (e.g. c5 00 ... for a 1280-byte datagram) before 6LoWPAN sees them.
    """
    pcap = directory / "frames.pcap"
    with pcap.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 195))  # IEEE802_15_4_WITHFCS
        for i, psdu in enumerate(psdus):
            f.write(struct.pack("<IIII", i, 0, len(psdu), len(psdu)) + psdu)
    argv = ["tshark", "-n", "-r", str(pcap), "-o", f"6lowpan.context0:{context0}",
            "-T", "fields", "-E", "occurrence=l"]
    for protocol in ("zbee_nwk", *disable):
        argv += ["--disable-protocol", protocol]
    for field in fields:
        argv += ["-e", field]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    return [dict(zip(fields, line.split("\t"))) for line in out.splitlines()]
