"""summary.md: its numbers are results.json's, its strings cannot inject HTML or columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testbed.errors import BadInput
from testbed.report import summary_markdown
from testbed.report.markdown import md
from testbed.report.rundir import read_run
from tests.report.runs import coap, hostile, write_run, xmpp

APPS = {"coap": "coap-sensor", "xmpp": "xmpp-sensor"}


def _table(markdown: str) -> dict[str, dict[str, str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def _number(cell: str) -> float | None:
    return None if cell == "-" else float(cell.replace(",", ""))


def _expected(results: dict[str, Any], name: str) -> dict[str, tuple[float | None, int]]:
    """Figure -> (value straight from the JSON, decimals shown)."""
    v = results["variants"][name]
    air, r, energy = v["air"], v["readings"], v.get("energy") or {}
    memory = results["memory"].get(APPS[name.split("-")[0]], {})
    return {
        "frames": (air["frames"], 0), "PSDU bytes": (air["bytes"], 0),
        "all-in B/rdg": (air["total_bytes"] / r["delivered"], 0),
        "steady B/rdg": (air["per_reading"]["bytes"], 0),
        "frames/rdg": (air["per_reading"]["frames"], 1),
        "set-up B": (air["setup"]["bytes"], 0),
        "latency p50 ms": (r["latency_ms"]["p50"], 0), "p95 ms": (r["latency_ms"]["p95"], 0),
        "set-up ms": (v["phases"]["setup_ms"]["p50"], 0),
        "reconnects": (r.get("reconnects", 0), 0),
        "mJ/reading": (energy["per_reading_mj"]["protocol"], 1),
        "life d": (min(energy["lifetime_days"].values()), 1),
        "bytecode B": (memory.get("bytecode_bytes"), 0),
    }


@pytest.mark.parametrize("which", ["synthetic_run", "sample_run"])
def test_numbers_are_those_of_results_json(which: str, request: pytest.FixtureRequest) -> None:
    run_dir: Path = request.getfixturevalue(which)
    results = json.loads((run_dir / "results.json").read_text())
    table = _table(summary_markdown(run_dir))
    assert list(table) == list(results["variants"])
    for name, row in table.items():
        r = results["variants"][name]["readings"]
        assert row["delivered/sent"] == f"{r['delivered']}/{r['sent']}"
        inferred = results["variants"][name]["air"]["per_reading"].get("method") == "time"
        for figure, (value, digits) in _expected(results, name).items():
            cell = row[figure]
            if figure in ("steady B/rdg", "frames/rdg") and value is not None:
                # a split by time (TLS) is marked as the inference it is, the others are not
                assert cell.startswith("≈") == inferred, (name, figure, cell)
                cell = cell.removeprefix("≈")
            shown = _number(cell)
            if value is None:
                assert shown is None, (name, figure)
            else:
                assert shown == pytest.approx(value, abs=0.5 * 10 ** -digits + 1e-9), (name, figure)


def test_run_line_verdict_memory_and_captures(synthetic_run: Path) -> None:
    text = summary_markdown(synthetic_run)
    assert text.startswith("### XMPP vs CoAP: run a1b2c3 on topology tiny\n")
    assert "4 readings per sensor every 0.5 s, payload senml-json in every variant, seed 7, " \
           "2 variants, 2026-11-26 07:50:52 UTC, " \
           "took 42 s" in text
    assert "**Verdict.** Every variant delivered all 8 readings it sent." in text
    assert "costs 4.0× the leanest CoAP variant" in text
    assert "- memory xmpp-sensor: bytecode 14,000 B (source 37,000 B); heap on " \
           "micropython-test of 10,000 B: before 300; does NOT fit" in text
    assert "`coap-observe-non/capture.pcap` (40 frames, 24 B)" in text
    assert "`xmpp-message/capture.pcap` (200 frames, 24 B)" in text


def test_hostile_strings_are_escaped(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", variants={"coap-get": coap(),
                                                    "xmpp-iq": hostile(xmpp())})
    text = summary_markdown(run_dir)
    assert "<script" not in text
    assert "&lt;script&gt;alert('x')&lt;/script&gt; \\| $x$ &amp; more" in text
    table = _table(text)
    assert set(table) == {"coap-get", "xmpp-iq"}  # the | did not add a column


def test_tests_and_notes(synthetic_run: Path) -> None:
    (synthetic_run / "tests.json").write_text(json.dumps([
        {"nodeid": "a", "outcome": "passed"}, {"nodeid": "b", "outcome": "failed"},
        {"nodeid": "c", "outcome": "passed"}]))
    (synthetic_run / "topology.yaml").unlink()
    text = summary_markdown(synthetic_run)
    assert "Tests: 1 failed, 2 passed" in text
    assert "> topology not drawn" in text
    notes = read_run(synthetic_run).notes  # the same notes as the report's
    assert notes and all(f"> {md(note)}" in text for note in notes)


def test_bad_results_json_names_the_file(synthetic_run: Path) -> None:
    (synthetic_run / "results.json").write_text('{"run_id": "x", "variants": ')
    with pytest.raises(BadInput, match=r"results\.json: not a results\.json"):
        summary_markdown(synthetic_run)


def test_reproduce_is_one_line_in_a_code_span(tmp_path: Path) -> None:
    manifest = {"run_id": "a1b2c3", "argv": ["testbed", "compare"], "host": {"cpu_count": 2},
                "reproduce": "testbed compare --topology /r/t.yaml --seed 7 --out '<a>`|`'\nx"}
    text = summary_markdown(write_run(tmp_path / "run", manifest=manifest))
    (line,) = [line for line in text.splitlines() if line.startswith("Run it again: ")]
    # inside a code span nothing is HTML, so nothing is escaped; its backticks and breaks go
    assert line == "Run it again: `testbed compare --topology /r/t.yaml --seed 7 --out '<a>|' x`"


def test_older_manifests_have_no_reproduce_line(synthetic_run: Path) -> None:
    assert "Run it again" not in summary_markdown(synthetic_run)


def test_capture_names_in_code_spans_are_not_escaped(tmp_path: Path) -> None:
    from dataclasses import replace

    run_dir = write_run(tmp_path / "run", variants={
        "coap-get": replace(coap(), capture="coap <1> & `2`/capture.pcap")})
    text = summary_markdown(run_dir)
    assert "`coap <1> & 2/capture.pcap` (40 frames, 24 B)" in text
    assert "&lt;" not in text and "&amp;" not in text


def test_code_spans() -> None:
    from testbed.report.markdown import code

    assert code("a<b>&c") == "`a<b>&c`"
    assert code("x`y\r\nz") == "`xy  z`"
    assert code("``") == ""


def test_discovery_table_shows_each_discovering_variant(tmp_path: Path) -> None:
    """The discovery section of results.json, as a table: a CoAP variant has none and no row."""
    from dataclasses import replace

    discovery = {"found": {"peer": 2, "nothing": 1}, "found_ms": {"p50": 3031.4, "max": 6012.0},
                 "air": {"frames": 349, "bytes": 31015}, "moves_to_server": 2,
                 "phases": {"server_started": 1.0,
                            "serverless": {"delivered": 14, "frames": 577, "bytes": 32901},
                            "server": {"delivered": 4, "frames": 439, "bytes": 24151}}}
    run = write_run(tmp_path / "run", variants={
        "coap-observe-non": coap(), "xmpp-serverless": replace(xmpp(), discovery=discovery)})
    rows = [line for line in summary_markdown(run).splitlines() if line.startswith("| xmpp-serv")
            and "peer" in line]
    assert rows == ["| xmpp-serverless | nothing x1, peer x2 | 3,031 | 6,012 | 349 | 31,015 | 2 "
                    "| 14 readings, 577 frames, 32,901 B | 4 readings, 439 frames, 24,151 B |"]
    from testbed.report.html import render_report_html

    html = render_report_html(read_run(run), [], None)
    assert "discovery-table" in html and "31,015" in html and "nothing x1, peer x2" in html
