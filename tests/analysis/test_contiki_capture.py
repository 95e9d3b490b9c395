"""A real Contiki-NG capture, accounted byte by byte, checked against tshark's dissection.

data/contiki-coap-get.pcap is one `testbed compare --platform contiki` run (coap-get: 3
sensors, 3 readings each, all delivered; s3 two hops away through r1). Contiki-NG 5.0 made
every byte: EUI-64 MAC addresses, IPHC with context 0 = fd00::/64, RPL-lite non-storing mode,
so upward data carries an RFC 6553 hop-by-hop option and downward data an RFC 6554 source
routing header, both as RFC 6282 §4.2 NHC extension headers. tshark (the independent oracle)
says per frame where each layer's bytes are; the figures below are summed from it and
compared with the analysis, so they are not written down anywhere in this file.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from testbed.analysis.account import DEFAULT_PREFIX, _Contexts, analyze, analyze_capture
from testbed.analysis.datagrams import decode_frames
from testbed.analysis.layers import SHR_PHR_BYTES
from testbed.analysis.totals import capture_totals
from testbed.capture.pcapfile import iter_frames
from testbed.lowpan.fcs import fcs16
from tests.lowpan.tshark_oracle import needs_tshark

CAPTURE = Path(__file__).parent / "data" / "contiki-coap-get.pcap"
TSHARK = ["tshark", "-n", "-r", str(CAPTURE), "--disable-protocol", "zbee_nwk",
          "-o", "6lowpan.context0:fd00::/64"]
_NHC_UDP_PORTS = (4, 3, 3, 1)  # RFC 6282 §4.3.3, by the P bits tshark shows
_SEQ = re.compile(r"seq=(\d+)")


def _pdml_layers() -> list[dict[str, int]]:
    """Per frame, the bytes of each layer of the accounting, from tshark's PDML positions."""
    out = subprocess.run([*TSHARK, "-T", "pdml"], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    frames = []
    for packet in ET.fromstring(out).iter("packet"):
        protos = {p.get("name"): p for p in packet.iter("proto")}
        fields = {f.get("name"): f for f in packet.iter("field")}
        length = int(protos["frame"].get("size"))
        if fields["wpan.frame_type"].get("value") == "2":  # an ACK: all of it is layer ack
            frames.append({"ack": length})
            continue
        lowpan = protos["6lowpan"]
        mhr, payload = int(lowpan.get("pos")), int(lowpan.get("size"))
        layers = {"mac": mhr + (length - mhr - payload)}  # MHR + FCS
        headers = payload
        if "udp" in protos:
            app = int(fields["udp.length"].get("show")) - 8
            ports = int(fields["6lowpan.nhc.udp.ports"].get("show"))
            checksum = 0 if fields["6lowpan.nhc.udp.checksum"].get("show") in ("1", "True") else 2
            layers["transport"] = 1 + _NHC_UDP_PORTS[ports] + checksum
            layers["app"] = app
            headers -= app + layers["transport"]
        if "icmpv6" in protos:
            layers["icmpv6"] = int(protos["icmpv6"].get("size"))
            headers -= layers["icmpv6"]
        layers["lowpan"] = headers  # IPHC + NHC extension headers: all that is left
        assert sum(layers.values()) == length
        frames.append(layers)
    return frames


def _tshark_rows() -> list[dict[str, str]]:
    names = ("frame.len", "wpan.frame_type", "wpan.seq_no", "coap.token", "ipv6.src", "text")
    argv = [*TSHARK, "-T", "fields", "-E", "separator=|", "-E", "occurrence=l"]
    for name in names:
        argv += ["-e", name]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
    return [dict(zip(names, line.split("|"))) for line in out.splitlines()]


def test_every_frame_of_the_contiki_capture_decodes() -> None:
    """Before RFC 6282 §4.2 NHC support, 35 of these 112 frames were undecodable."""
    frames = decode_frames(((f.time, f.psdu) for f in iter_frames(CAPTURE)),
                           _Contexts(DEFAULT_PREFIX.network_address.packed[:8])).frames
    assert len(frames) == 112
    assert [f.error for f in frames if f.error] == []
    assert {f.kind for f in frames} == {"data", "ack"}
    report = analyze_capture(CAPTURE)
    assert report.undecodable == 0
    assert "undecodable" not in report.by_purpose
    assert report.by_purpose["icmpv6-rpl"]["frames"] > 0  # RPL's DIO/DAO/DAO-ACK: overhead


@needs_tshark
def test_layer_totals_equal_what_tshark_dissects() -> None:
    report = analyze_capture(CAPTURE)
    frames = _pdml_layers()
    expected: dict[str, int] = defaultdict(int)
    for layers in frames:
        for layer, size in layers.items():
            expected[layer] += size
    expected["phy"] = SHR_PHR_BYTES * len(frames)
    assert {k: v for k, v in report.by_layer.items() if v} == dict(expected)
    assert report.total_bytes == sum(expected.values())
    totals = capture_totals(CAPTURE)
    assert (totals.frames, totals.bytes, totals.udp_payload) == (
        report.frames, report.bytes, expected["app"])


@needs_tshark
def test_per_reading_figures_equal_tshark_grouping() -> None:
    """A reading's frames, told apart by tshark's fields alone: every frame (every hop, a MAC
    retry too) of the CoAP response carrying `seq=n` from a sensor and of the request with
    that response's token, each with the link-layer ACK right behind it."""
    rows = _tshark_rows()
    token_of: dict[tuple[str, int], str] = {}
    for row in rows:
        match = _SEQ.search(row["text"])
        if match:
            token_of[(row["ipv6.src"], int(match[1]))] = row["coap.token"]
    reading_of_token = {token: reading for reading, token in token_of.items()}
    bytes_of: dict[tuple[str, int], int] = defaultdict(int)
    frames_of: dict[tuple[str, int], int] = defaultdict(int)
    previous = None
    for row in rows:
        on_air = int(row["frame.len"]) + SHR_PHR_BYTES
        if row["wpan.frame_type"] == "0x0002":
            if previous is not None and previous[0] == row["wpan.seq_no"]:
                bytes_of[previous[1]] += on_air
                frames_of[previous[1]] += 1
            previous = None
            continue
        reading = reading_of_token.get(row["coap.token"])
        previous = (row["wpan.seq_no"], reading) if reading else None
        if reading:
            bytes_of[reading] += on_air
            frames_of[reading] += 1
    assert len(token_of) == 9  # 3 sensors x 3 readings, every one delivered
    report = analyze_capture(CAPTURE)
    figures = report.per_reading
    assert figures["readings"] == len(token_of)
    assert figures["bytes_total"] == sum(bytes_of.values())
    assert figures["frames_total"] == sum(frames_of.values())
    assert figures["bytes"] == pytest.approx(sum(bytes_of.values()) / len(token_of))
    assert figures["frames"] == pytest.approx(sum(frames_of.values()) / len(token_of))
    assert (figures["bytes_min"], figures["bytes_max"]) == (
        min(bytes_of.values()), max(bytes_of.values()))


def test_a_frame_the_codec_cannot_read_counts_as_undecodable() -> None:
    """A Contiki frame whose NHC says a reserved EID (5) is filed under undecodable and
    counted in `undecodable`, like a frame with a bad FCS; the others stay readable."""
    frames = [(f.time, f.psdu) for f in iter_frames(CAPTURE)]
    psdu = bytearray(frames[62][1])  # frame 63: IPHC ... e1 (hop-by-hop, NH=1) at byte 40
    assert psdu[40] == 0xE1
    psdu[40] = 0xEB
    frames[62] = (frames[62][0], bytes(psdu[:-2]) + fcs16(bytes(psdu[:-2])).to_bytes(2, "little"))
    report = analyze(frames)
    assert report.undecodable == 1
    assert report.by_purpose["undecodable"]["frames"] == 1
    # that frame was the only one carrying s1's seq=1: the other 8 readings are still found
    assert report.per_reading["readings"] == 8


def test_the_memoised_header_path_equals_the_plain_one_on_nhc_chains() -> None:
    """HeaderMemo keys an IPHC by its bytes up to the UDP checksum: with extension headers in
    between (RPL's rank changes per hop) it must still give the plain path's answer."""
    frames = [(f.time, f.psdu) for f in iter_frames(CAPTURE)]
    assert analyze(frames, fast=True) == analyze(frames, fast=False)
