"""The per-reading split worked out from tshark's dissection alone (issue 11's oracle).

A reading's bytes on the air (PSDU + SHR/PHR) are the frames of the datagrams that carry it
or answer it, their fragments (6lowpan.fragment lists them at the reassembly), their MAC
retries (same sender, sequence number and length again) and the link ACKs of all of those:
  CoAP  every datagram with a CoAP token: the sink's request and the node's response (coap-get);
  XMPP  per TCP stream, the sensor's segments carrying a <message/>, and the server's pure
        ACKs whose acknowledgement number ends one of them.
Nothing here uses testbed.analysis: the rules are the documented ones, the parsing tshark's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

ON_AIR = 6  # SHR + PHR
ACK = "0x0002"
BASE = ("frame.number", "frame.len", "wpan.frame_type", "wpan.seq_no", "6lowpan.fragment",
        "wpan.src16", "wpan.src64")


def rows(capture: Path, *extra: str) -> list[dict[str, str]]:
    fields = BASE + extra
    argv = ["tshark", "-n", "-r", str(capture), "--disable-protocol", "zbee_nwk",
            "-o", "6lowpan.context0:fd00::/64", "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in fields:
        argv += ["-e", field]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]


def _with_fragments(row: dict[str, str]) -> set[int]:
    return {int(row["frame.number"])} | {
        int(n) for n in row["6lowpan.fragment"].split(",") if n}


def _on_air(frames: Sequence[dict[str, str]], picked: set[int]) -> int:
    """Bytes on the air of the picked frames, their MAC retries and their link ACKs."""
    last_from: dict[str, tuple[tuple[str, str], int]] = {}
    for row in frames:
        if row["wpan.frame_type"] == ACK:
            continue
        sender = row["wpan.src16"] or row["wpan.src64"]
        key, number = (row["wpan.seq_no"], row["frame.len"]), int(row["frame.number"])
        before = last_from.get(sender)
        if before is not None and before[0] == key and before[1] in picked:
            picked.add(number)
        last_from[sender] = (key, number)
    total, last_data = 0, None
    for row in frames:
        number = int(row["frame.number"])
        if row["wpan.frame_type"] != ACK:
            last_data = (number, row["wpan.seq_no"])
            if number in picked:
                total += int(row["frame.len"]) + ON_AIR
        elif last_data is not None and last_data[1] == row["wpan.seq_no"] \
                and last_data[0] in picked:
            total += int(row["frame.len"]) + ON_AIR
    return total


def coap_reading_bytes(capture: Path) -> int:
    frames = rows(capture, "coap.token")
    picked: set[int] = set()
    for row in frames:
        if row["coap.token"]:
            picked |= _with_fragments(row)
    return _on_air(frames, picked)


def xmpp_message_bytes(capture: Path, server_port: str = "5222") -> int:
    frames = rows(capture, "tcp.stream", "tcp.srcport", "tcp.len", "tcp.seq", "tcp.ack",
                  "tcp.flags.syn", "tcp.flags.fin", "tcp.payload")
    picked: set[int] = set()
    ends: set[tuple[str, int]] = set()
    for row in frames:
        if row["tcp.stream"] and row["tcp.srcport"] != server_port and row["tcp.len"] not in (
                "", "0") and b"<message" in bytes.fromhex(row["tcp.payload"].replace(":", "")):
            picked |= _with_fragments(row)
            ends.add((row["tcp.stream"], int(row["tcp.seq"]) + int(row["tcp.len"])))
    for row in frames:
        pure_ack = (row["tcp.len"] == "0" and row["tcp.flags.syn"] in ("0", "False")
                    and row["tcp.flags.fin"] in ("0", "False"))
        if row["tcp.stream"] and row["tcp.srcport"] == server_port and pure_ack \
                and (row["tcp.stream"], int(row["tcp.ack"])) in ends:
            picked |= _with_fragments(row)
    return _on_air(frames, picked)
