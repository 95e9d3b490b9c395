"""The bulk-path totals equal the full analysis on the same capture, damaged input says where."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.analysis.account import analyze_capture
from testbed.analysis.totals import Totals, capture_totals
from testbed.errors import BadInput

from .frames import Air, address, coap_get, udp
from .sessions import BR, SENSOR, xmpp_session


def _capture(tmp_path: Path) -> Path:
    air = Air()
    for i in range(3):
        air.send(udp(address(BR), address(SENSOR), 5683, 5683, coap_get(i, b"\x01", "t")), BR,
                 SENSOR, retry=0 if i == 1 else None)
        air.send(udp(address(SENSOR), address(BR), 5683, 5683, bytes(200)), SENSOR, BR, retry=2)
    xmpp_session(air)
    return air.write(tmp_path / "mix.pcap")


def test_totals_equal_the_full_analysis(tmp_path: Path) -> None:
    path = _capture(tmp_path)
    full = analyze_capture(path)
    assert capture_totals(path) == Totals(full.frames, full.bytes, full.ack_frames,
                                          full.payload["tcp"], full.payload["udp"])
    # three 7-byte GETs (one MAC-retried: a dissector shows it twice), three 200-byte answers
    # in fragments (one completion each, MAC retries of a fragment add nothing)
    assert full.payload["udp"] == 4 * 7 + 3 * 200


def test_a_retried_unfragmented_frame_counts_twice_a_retried_fragment_once(tmp_path: Path) -> None:
    air = Air()
    air.send(udp(address(BR), address(SENSOR), 5683, 5683, b"\x50\x01\x00\x01"), BR, SENSOR,
             retry=0)
    air.send(udp(address(SENSOR), address(BR), 5683, 5683, bytes(200)), SENSOR, BR, retry=2)
    totals = capture_totals(air.write(tmp_path / "r.pcap"))
    assert totals.udp_payload == 2 * 4 + 200


@pytest.mark.parametrize(("cut", "message"), [(10, "offset 0: truncated pcap global header"),
                                              (-3, r"offset \d+: truncated frame")])
def test_damaged_captures_name_the_offset(tmp_path: Path, cut: int, message: str) -> None:
    path = _capture(tmp_path)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(BadInput, match=message):
        capture_totals(path)
