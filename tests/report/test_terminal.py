"""The terminal tables show the same figures as the report, and never read markup from data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from testbed.experiment.results import Readings, read_results
from testbed.report import compare_runs, delta_table, verdict_table
from tests.report.runs import coap, write_run, xmpp


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("│") if c.strip()]


def _text(table) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=300, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_verdict_table_columns_rows_and_caption(synthetic_run: Path) -> None:
    table = verdict_table(read_results(synthetic_run))
    assert [c.header for c in table.columns] == [
        "variant", "delivered/sent", "frames", "PSDU bytes", "all-in B/rdg", "steady B/rdg",
        "msg B", "1 frame",
        "frames/rdg", "set-up B", "latency p50 ms", "p95 ms", "set-up ms", "reconnects", "mJ/reading",
        "mJ/rdg DC",
        "life d", "bytecode B", "heap"]
    assert table.row_count == 2
    text = _text(table)
    assert ("compare tiny: 4 readings per sensor every 0.5 s, payload senml-json, seed 7, "
            "run a1b2c3") in text
    coap_row = _cells(next(line for line in text.splitlines() if "coap-observe-non" in line))
    assert coap_row[1:18] == ["8/8", "40", "2,000", "280", "150", "-", "-", "3.0", "600", "5",
                              "9", "-", "0", "20.0", "-", "5.5", "9,000"]
    assert "fits 7,000/10,000 B" in text and "MemoryError" in text
    assert "steady and set-up B: bytes on the air incl. PHY SHR+PHR" in text


def test_rows_are_coloured_by_outcome_and_data_is_not_markup(tmp_path: Path) -> None:
    lossy = replace(coap(), readings=Readings(sent=8, delivered=6))
    failed = replace(xmpp(), error="boom")
    run_dir = write_run(tmp_path / "run", variants={"coap-get": lossy, "xmpp-iq": failed,
                                                    "coap-[bold]x[/bold]": coap()})
    table = verdict_table(read_results(run_dir))
    assert [row.style for row in table.rows] == ["yellow", "red", None]
    assert "coap-[bold]x[/bold]" in _text(table)


def test_delta_table(synthetic_run: Path, tmp_path: Path) -> None:
    b = write_run(tmp_path / "b", variants={"xmpp-message": replace(
        xmpp(), air=replace(xmpp().air, per_reading={"readings": 8, "bytes": 450.0,
                                                     "frames": 9.0}))}, run_id="d4e5f6")
    table = delta_table(compare_runs(synthetic_run, b))
    assert [c.header for c in table.columns] == ["variant", "figure", "A", "B", "Δ", "Δ %"]
    assert table.row_count == 9  # one variant in both, nine figures
    text = _text(table)
    assert "bytes/reading (steady, incl. PHY) (B)" in text
    row = next(line for line in text.splitlines() if "bytes/reading" in line)
    assert _cells(row)[-4:] == ["600", "450", "-150", "-25.0 %"]
    assert "only in A: coap-observe-non" in text
