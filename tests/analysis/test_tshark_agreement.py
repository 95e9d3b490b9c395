"""tshark, the independent oracle, agrees with the analysis on real captures, to the byte.

Frame counts, every frame's length, ACK frames, TCP payload (tcp.len, counted where tshark
shows it: each unfragmented frame, a fragmented datagram at its reassembly) and UDP payload
(udp.length - 8), for every variant of a comparison run, by the full analysis and by the
bulk-path totals.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testbed.analysis.account import DEFAULT_PREFIX, _Contexts, analyze_capture
from testbed.analysis.datagrams import decode_frames
from testbed.analysis.totals import capture_totals
from testbed.capture.pcapfile import iter_frames
from testbed.experiment.results import Results
from testbed.experiment.variants import Variant

from .frames import Air
from .sessions import BR, SENSOR, presence_and_reading, xmpp_session
from .tshark_split import coap_reading_bytes, xmpp_message_bytes


def tshark_rows(capture: Path) -> list[list[str]]:
    argv = ["tshark", "-n", "-r", str(capture), "--disable-protocol", "zbee_nwk",
            "-o", "6lowpan.context0:fd00::/64", "-T", "fields", "-E", "separator=\t",
            "-e", "frame.len", "-e", "wpan.frame_type", "-e", "tcp.len", "-e", "udp.length"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return [line.split("\t") for line in out.stdout.splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(Variant), ids=str)
def test_tshark_agrees_to_the_byte(comparison: tuple[Path, Results], variant: Variant) -> None:
    run_dir, results = comparison
    capture = run_dir / str(variant) / "capture.pcap"
    rows = tshark_rows(capture)
    frames = decode_frames(((f.time, f.psdu) for f in iter_frames(capture)),
                           _Contexts(DEFAULT_PREFIX.network_address.packed[:8])).frames
    assert [f.length for f in frames] == [int(r[0]) for r in rows]
    report = analyze_capture(capture)
    tcp = sum(int(r[2]) for r in rows if r[2])
    udp = sum(int(r[3]) - 8 for r in rows if r[3])
    acks = sum(1 for r in rows if r[1] == "0x0002")
    assert (report.frames, report.bytes, report.ack_frames) == (
        len(rows), sum(int(r[0]) for r in rows), acks)
    assert report.payload == {"tcp": tcp, "udp": udp}
    totals = capture_totals(capture)
    assert (totals.frames, totals.bytes, totals.ack_frames, totals.tcp_payload,
            totals.udp_payload) == (len(rows), report.bytes, acks, tcp, udp)
    assert (tcp if variant.protocol == "xmpp" else udp) > 0
    air = results.variants[str(variant)].air
    assert (air.frames, air.bytes, air.payload) == (report.frames, report.bytes, report.payload)


@pytest.mark.slow
@pytest.mark.parametrize("variant, split", [(Variant.COAP_GET, coap_reading_bytes),
                                            (Variant.XMPP_MESSAGE, xmpp_message_bytes)],
                         ids=["coap-get", "xmpp-message"])
def test_the_per_reading_bytes_equal_tsharks_split(comparison: tuple[Path, Results],
                                                   variant: Variant, split) -> None:
    """The headline's per-reading bytes (air.per_reading: all readings' bytes on the air)
    against a split tshark's dissection gives on its own (tshark_split.py), within 1 %."""
    run_dir, results = comparison
    per_reading = results.variants[str(variant)].air.per_reading
    oracle = split(run_dir / str(variant) / "capture.pcap")
    assert per_reading["readings"] > 0
    assert oracle == pytest.approx(per_reading["bytes_total"], rel=0.01), (oracle, per_reading)


@pytest.mark.parametrize("capture", ["session", "coalesced-and-sent-again", "missed-on-a-hop"])
def test_the_xmpp_split_on_hand_built_captures(tmp_path: Path, capture: str) -> None:
    """The same agreement where the hard cases are known to be in the capture: a MAC retry and
    a TCP retransmission of a reading; a segment carrying the presence and a reading, sent
    twice; a hop on which the sniffer missed a segment before the reading's."""
    air = Air()
    if capture == "session":
        xmpp_session(air)
    elif capture == "coalesced-and-sent-again":
        presence_and_reading(air, [(SENSOR, BR)], repeat=True)
    else:
        presence_and_reading(air, [(SENSOR, 3), (3, BR)], lost_on=(3, BR))
    path = air.write(tmp_path / "capture.pcap")
    per_reading = analyze_capture(path).per_reading
    assert per_reading["readings"] == 1
    oracle = xmpp_message_bytes(path)
    assert oracle == pytest.approx(per_reading["bytes_total"], rel=0.01), (oracle, per_reading)
