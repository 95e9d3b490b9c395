"""tshark as the independent oracle on captures: what Wireshark makes of our frames."""

from __future__ import annotations

import subprocess
from pathlib import Path


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
                  "_ws.expert.message")
    assert rows, f"{capture}: tshark read no frame"
    malformed = [i + 1 for i, row in enumerate(rows) if row[2] and not _xmpp_stream_close(row)]
    assert not malformed, f"{capture}: tshark calls frames {malformed[:10]} malformed"
    oversize = [(i + 1, int(row[0])) for i, row in enumerate(rows) if int(row[0]) > 127]
    assert not oversize, f"{capture}: frames longer than 127 bytes: {oversize[:10]}"
    acks = sum(1 for row in rows if row[1] == "0x0002")
    # every data frame is 6LoWPAN to Wireshark's heuristics (none taken for ZigBee NWK, say)
    strays = [(i + 1, row[3]) for i, row in enumerate(rows)
              if row[1] == "0x0001" and not row[3].startswith("wpan:6lowpan")]
    assert not strays, f"{capture}: data frames not dissected as 6LoWPAN: {strays[:10]}"
    return {"frames": len(rows), "acks": acks, "data": len(rows) - acks}


def _xmpp_stream_close(row: list[str]) -> bool:
    """Wireshark's XMPP dissector reads each TCP segment as a document, so the closing
    </stream:stream> (RFC 6120 §4.4), whose opening tag came long before, is "Closing an
    unopened tag" to it: that one complaint, in an XMPP segment, is the dissector's, not ours."""
    messages = {m for m in row[4].split("|") if m}
    return (row[3].endswith(":xmpp:xml") and "Closing an unopened tag" in messages
            and not any(m.startswith("Malformed") for m in messages))
