"""tshark as the independent oracle on captures: what Wireshark makes of our frames."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

#: Wireshark's TCP reassembly complaint when one stream is seen twice (tcp.c, "overlap").
TCP_OVERLAP = "New fragment overlaps old data (retransmission?)"


def fields(capture: Path, *names: str, display_filter: str | None = None) -> list[list[str]]:
    """One row per frame with the requested fields, as tshark dissects them with no preference set."""
    argv = ["tshark", "-n", "-r", str(capture), "-T", "fields", "-E", "separator=\t",
            "-E", "aggregator=|"]
    if display_filter:
        argv += ["-Y", display_filter]
    for name in names:
        argv += ["-e", name]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return [line.split("\t") for line in out.stdout.splitlines()]


def check_capture(capture: Path) -> dict[str, int]:
    """Assert the invariants every capture must hold; return frame counts for the log."""
    rows = fields(capture, "frame.len", "wpan.frame_type", "_ws.malformed", "frame.protocols",
                  "_ws.expert.message", "wpan.src16", "wpan.dst16", "wpan.src64", "wpan.dst64")
    assert rows, f"{capture}: tshark read no frame"
    malformed = [i + 1 for i, row in enumerate(rows) if row[2] and not _xmpp_stream_close(row)]
    malformed = _malformed_within_hop(capture, rows, malformed)
    assert not malformed, f"{capture}: tshark calls frames {malformed[:10]} malformed"
    oversize = [(i + 1, int(row[0])) for i, row in enumerate(rows) if int(row[0]) > 127]
    assert not oversize, f"{capture}: frames longer than 127 bytes: {oversize[:10]}"
    acks = sum(1 for row in rows if row[1] == "0x0002")
    # every data frame is 6LoWPAN to Wireshark's heuristics (none taken for ZigBee NWK, say)
    strays = [(i + 1, row[3]) for i, row in enumerate(rows)
              if row[1] == "0x0001" and not row[3].startswith("wpan:6lowpan")]
    assert not strays, f"{capture}: data frames not dissected as 6LoWPAN: {strays[:10]}"
    return {"frames": len(rows), "acks": acks, "data": len(rows) - acks}


def _malformed_within_hop(capture: Path, rows: list[list[str]], malformed: list[int]) -> list[int]:
    """Frames still malformed when their own hop is dissected alone.

    A multi-hop capture holds each TCP segment once per hop. Wireshark follows one TCP stream
    across all of them, so a segment forwarded after the next one's first hop looks to it like a
    retransmission overlapping data it already reassembled (a TLS record split over two segments
    does it). A sniffer in range of one link sees no such thing: those frames are re-dissected
    with their hop's frames only, and a complaint that stays is kept.
    """
    overlaps = [n for n in malformed if TCP_OVERLAP in rows[n - 1][4].split("|")]
    kept = [n for n in malformed if n not in overlaps]
    for src, dst in sorted({_hop(rows[n - 1]) for n in overlaps}):
        hop = f"{src} && {dst}"
        numbers = [n for n in range(1, len(rows) + 1) if _hop(rows[n - 1]) == (src, dst)]
        with tempfile.TemporaryDirectory() as tmp:
            part = Path(tmp) / "hop.pcap"
            subprocess.run(["tshark", "-n", "-r", str(capture), "-Y", hop, "-w", str(part)],
                           capture_output=True, check=True, timeout=120)
            again = fields(part, "_ws.malformed")
        assert len(again) == len(numbers), f"{capture}: hop {src}->{dst} re-read differs"
        kept += [numbers[i] for i, row in enumerate(again) if row[0] and numbers[i] in overlaps]
    return sorted(kept)


def _hop(row: list[str]) -> tuple[str, str]:
    """The frame's link as two display-filter terms (short addresses, else extended)."""
    src = f"wpan.src16 == {row[5]}" if row[5] else f"wpan.src64 == {row[7]}"
    dst = f"wpan.dst16 == {row[6]}" if row[6] else f"wpan.dst64 == {row[8]}"
    return src, dst


def _xmpp_stream_close(row: list[str]) -> bool:
    """Wireshark's XMPP dissector reads each TCP segment as a document, so the closing
    </stream:stream> (RFC 6120 §4.4), whose opening tag came long before, is "Closing an
    unopened tag" to it: that one complaint, in an XMPP segment, is the dissector's, not ours."""
    messages = {m for m in row[4].split("|") if m}
    return (row[3].endswith(":xmpp:xml") and "Closing an unopened tag" in messages
            and not any(m.startswith("Malformed") for m in messages))
