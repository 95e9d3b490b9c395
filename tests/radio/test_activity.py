"""The activity log: header of the contract, rows read back as written."""

from __future__ import annotations

from pathlib import Path

from testbed.radio.activity import HEADER, ActivityLog, RadioActivity, read_activity


def test_header_matches_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "radio.csv"
    with ActivityLog(path):
        pass
    assert path.read_text().splitlines() == [",".join(HEADER)]
    assert ",".join(HEADER) == "node,kind,frame,start_s,duration_s,bytes,seq,peer,status"


def test_rows_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "radio.csv"
    rows = [
        RadioActivity("n1", "tx", "data", 0.001234, 0.004256, 127, 255, "br", "ok"),
        RadioActivity("br", "cca", "data", 1.5, 0.000128, 0, -1, "", "busy"),
    ]
    with ActivityLog(path) as log:
        for row in rows:
            log.write(row)
        log.flush()
        assert len(read_activity(path)) == 2  # flushed: readable while open
    assert read_activity(path) == rows
