"""The per-reading split worked out from tshark's dissection alone (issue 11's oracle).

A reading's bytes on the air (PSDU + SHR/PHR) are the frames of the datagrams that carry it
or answer it, their fragments (6lowpan.fragment lists them at the reassembly), their MAC
retries (same sender, sequence number and length again) and the link ACKs of all of those
(an ACK answers the latest frame that asked for one with its sequence number):
  CoAP  every datagram with a CoAP token: the sink's request and the node's response (coap-get);
  XMPP  per TCP stream (tshark's, over every hop), the sensor's bytes put in sequence order and
        cut at each <message>...</message>; every segment carrying some of them, a
        retransmission too, counts by the share of its frames' bytes that is message (its TCP
        header going with its first payload byte); the server's pure ACKs whose last
        acknowledged byte is one count whole.
Nothing here uses testbed.analysis: the rules are the documented ones, the parsing tshark's."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

ON_AIR = 6  # SHR + PHR
ACK = "0x0002"
BASE = ("frame.number", "frame.len", "wpan.frame_type", "wpan.seq_no", "6lowpan.fragment",
        "wpan.src16", "wpan.src64", "wpan.ack_request")


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


def _on_air(frames: Sequence[dict[str, str]], picked: dict[int, float]) -> float:
    """Bytes on the air of the picked frames (each by its share), their MAC retries (the same
    share) and their link ACKs (counted whole where the frame they answer mostly goes)."""
    last_from: dict[str, tuple[tuple[str, str], int]] = {}
    for row in frames:
        if row["wpan.frame_type"] == ACK:
            continue
        sender = row["wpan.src16"] or row["wpan.src64"]
        key, number = (row["wpan.seq_no"], row["frame.len"]), int(row["frame.number"])
        before = last_from.get(sender)
        if before is not None and before[0] == key and before[1] in picked:
            picked[number] = picked[before[1]]
        last_from[sender] = (key, number)
    # an ACK answers the latest frame that asked for one with its sequence number: broadcasts
    # (no AR bit, IEEE 802.15.4-2015 §6.7.4) heard in between answer nothing
    total, asked = 0.0, {}
    for row in frames:
        number = int(row["frame.number"])
        if row["wpan.frame_type"] != ACK:
            if row["wpan.ack_request"] in ("1", "True"):
                asked[row["wpan.seq_no"]] = number
            total += (int(row["frame.len"]) + ON_AIR) * picked.get(number, 0.0)
        elif picked.get(asked.get(row["wpan.seq_no"], -1), 0.0) > 0.5:
            total += int(row["frame.len"]) + ON_AIR
    return total


def coap_reading_bytes(capture: Path) -> float:
    frames = rows(capture, "coap.token")
    picked: dict[int, float] = {}
    for row in frames:
        if row["coap.token"]:
            picked.update(dict.fromkeys(_with_fragments(row), 1.0))
    return _on_air(frames, picked)


def _overlap(a: int, b: int, ranges: Sequence[tuple[int, int]]) -> int:
    return sum(max(0, min(b, e) - max(a, s)) for s, e in ranges)


def _segment_shares(segment: dict[str, str], by_number: dict[int, dict[str, str]],
                    ranges: Sequence[tuple[int, int]]) -> dict[int, float]:
    """Each frame of the segment's datagram: the part of its bytes that is <message/>.

    A frame's inline bytes weigh what they serve: the TCP header what the segment's first
    payload byte serves, each payload byte its element (the rule account.py's and
    transport.py's docstrings state, worked out here in uncompressed datagram offsets from
    tshark's 6lowpan.frag.offset/size and tcp.len, not with their code)."""
    seq, length = int(segment["tcp.seq"]), int(segment["tcp.len"])
    header = int(segment["tcp.hdr_len"])
    numbers = sorted(_with_fragments(segment))
    size = int(segment["6lowpan.frag.size"] or 0)
    starts = {n: int(by_number[n]["6lowpan.frag.offset"] or 0) for n in numbers}
    if len(numbers) == 1 or not size:
        size = length + header  # unfragmented: only where the payload starts matters
        starts = {numbers[0]: 0}
    payload_at = size - length
    header_serves_message = _overlap(seq, seq + 1, ranges) > 0
    ordered = sorted(set(starts.values()))
    shares: dict[int, float] = {}
    for n, start in starts.items():
        end = next((o for o in ordered if o > start), size)
        head = max(0, min(end, payload_at) - max(start, payload_at - header))
        first = seq + max(start, payload_at) - payload_at
        last = seq + end - payload_at
        body = max(0, last - first)
        weight = head + body
        message = _overlap(first, last, ranges) + (head if header_serves_message else 0)
        shares[n] = message / weight if weight else float(header_serves_message)
    return shares


def xmpp_message_bytes(capture: Path, server_port: str = "5222") -> float:
    frames = rows(capture, "tcp.stream", "tcp.srcport", "tcp.len", "tcp.seq", "tcp.ack",
                  "tcp.hdr_len", "tcp.flags.syn", "tcp.flags.fin", "tcp.payload",
                  "6lowpan.frag.size", "6lowpan.frag.offset")
    by_number = {int(row["frame.number"]): row for row in frames}
    sent: dict[str, dict[int, bytes]] = {}  # stream -> relative seq -> the sensor's payload
    for row in frames:
        if row["tcp.stream"] and row["tcp.srcport"] != server_port and row["tcp.payload"]:
            payload = bytes.fromhex(row["tcp.payload"].replace(":", ""))
            sent.setdefault(row["tcp.stream"], {})[int(row["tcp.seq"])] = payload
    messages: dict[str, list[tuple[int, int]]] = {}  # stream -> [start, end) in relative seq
    for stream, segments in sent.items():
        data = bytearray()
        for seq in sorted(segments):  # a retransmission overwrites what it repeats
            data[seq - 1:seq - 1 + len(segments[seq])] = segments[seq]
        messages[stream] = [(m.start() + 1, m.end() + 1) for m in re.finditer(
            rb"<message[ >].*?</message>", bytes(data), re.DOTALL)]
    picked: dict[int, float] = {}
    for row in frames:
        ranges = messages.get(row["tcp.stream"])
        if not ranges:
            continue
        if row["tcp.srcport"] != server_port and row["tcp.len"] not in ("", "0"):
            seq = int(row["tcp.seq"])
            if _overlap(seq, seq + int(row["tcp.len"]), ranges):  # part of a <message/>
                picked.update(_segment_shares(row, by_number, ranges))
        elif row["tcp.srcport"] == server_port and row["tcp.len"] == "0" \
                and row["tcp.flags.syn"] in ("0", "False") \
                and row["tcp.flags.fin"] in ("0", "False"):
            ack = int(row["tcp.ack"])
            if any(s < ack <= e for s, e in ranges):  # its last byte acknowledged is one
                picked.update(dict.fromkeys(_with_fragments(row), 1.0))
    return _on_air(frames, picked)
