"""`testbed report`: one run re-rendered from its results.json, or two runs compared."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from testbed.experiment.results import (
    Air, Percentiles, Readings, Results, VariantResult, read_results, write_results,
)
from tests.cli import run_cli


def tiny_run(parent: Path, run_id: str, *, delivered: int, coap_bytes: int) -> Path:
    """A run directory as `testbed compare` leaves it, minus the captures: results.json
    (written by the experiment's own writer) and run.json."""
    run_dir = parent / f"20260101-000000-{run_id}"
    run_dir.mkdir()
    variants = {
        "coap-get": VariantResult(
            readings=Readings(expected=4, sent=4, delivered=delivered, lost=4 - delivered,
                              latency_ms=Percentiles(p50=21.0, p95=40.0)),
            air=Air(frames=24, bytes=coap_bytes, ack_frames=12,
                    by_layer={"phy": 144, "mac": 300, "lowpan": 120, "transport": 64,
                              "app": coap_bytes - 484 if coap_bytes > 484 else 10})),
        "xmpp-message": VariantResult(
            readings=Readings(expected=4, sent=4, delivered=4,
                              latency_ms=Percentiles(p50=35.0, p95=60.0)),
            air=Air(frames=80, bytes=6400, ack_frames=40)),
    }
    write_results(Results(run_id=run_id, topology="pair", seed=1, readings=2, interval_s=0.5,
                          variants=variants), run_dir)
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": run_id, "topology": {"name": "pair", "source": None, "sha256": None},
        "seed": 1, "started": "2026-01-01T00:00:00+00:00",
        "ended": "2026-01-01T00:00:30+00:00", "testbed_version": "0.1.0",
        "argv": ["testbed", "compare", "--readings", "2"]}))
    return run_dir


def test_report_of_one_run_renders_the_files_and_shows_the_verdict(tmp_path: Path) -> None:
    run = tiny_run(tmp_path, "aaaaaa", delivered=4, coap_bytes=900)
    done = run_cli("report", str(run))
    assert done.returncode == 0, done.stderr
    assert (run / "report.html").stat().st_size > 0 and (run / "summary.md").stat().st_size > 0
    assert f"report: {run / 'report.html'}" in done.stdout
    assert f"summary: {run / 'summary.md'}" in done.stdout
    assert "coap-get" in done.stdout and "xmpp-message" in done.stdout


def test_report_of_one_run_as_json(tmp_path: Path) -> None:
    run = tiny_run(tmp_path, "aaaaaa", delivered=4, coap_bytes=900)
    done = run_cli("report", str(run), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["report"] == str(run / "report.html") and Path(data["report"]).is_file()
    assert data["content"] == json.loads((run / "results.json").read_text())


def test_two_runs_give_a_delta_table_and_delta_html(tmp_path: Path) -> None:
    a = tiny_run(tmp_path, "aaaaaa", delivered=4, coap_bytes=900)
    b = tiny_run(tmp_path, "bbbbbb", delivered=3, coap_bytes=1200)
    done = run_cli("report", str(a), str(b))
    assert done.returncode == 0, done.stderr
    assert f"delta report: {b / 'delta.html'}" in done.stdout
    assert (b / "delta.html").stat().st_size > 0
    assert "coap-get" in done.stdout


def test_two_runs_as_json_into_another_directory(tmp_path: Path) -> None:
    a = tiny_run(tmp_path, "aaaaaa", delivered=4, coap_bytes=900)
    b = tiny_run(tmp_path, "bbbbbb", delivered=3, coap_bytes=1200)
    out = tmp_path / "delta"
    done = run_cli("report", str(a), str(b), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert Path(data["report"]).parent == out and Path(data["report"]).is_file()
    assert not (b / "delta.html").exists()
    assert "coap-get" in json.dumps(data["delta"])


@pytest.mark.parametrize("what", ["missing", "not-json"])
def test_a_run_without_results_is_bad_input_in_one_line(tmp_path: Path, what: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    if what == "not-json":
        (run / "results.json").write_text("{ not json")
    done = run_cli("report", str(run))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"testbed: {run / 'results.json'}: ")


def test_out_is_only_for_two_runs(tmp_path: Path) -> None:
    run = tiny_run(tmp_path, "aaaaaa", delivered=4, coap_bytes=900)
    done = run_cli("report", str(run), "--out", str(tmp_path / "x"))
    assert done.returncode == 2
    assert done.stderr.strip() == ("testbed: report: --out is for the delta report of two runs; "
                                   "one run's report is written into its own directory")


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="no chromium: apt-get install chromium")
def test_a_screenshot_of_the_report(tmp_path: Path) -> None:
    run = tiny_run(tmp_path, "aaaaaa", delivered=4, coap_bytes=900)
    png = tmp_path / "shot.png"
    done = run_cli("report", str(run), "--screenshot", str(png), timeout=180)
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"screenshot: {png}" in done.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_a_run_with_a_failed_variant_is_reported_then_exits_1(tmp_path: Path,
                                                             as_json: bool) -> None:
    """As `testbed compare` ends: the table (or the JSON), then one line per failed
    variant on stderr, status 1; the report is still written."""
    run = tiny_run(tmp_path, "cccccc", delivered=4, coap_bytes=900)
    results = read_results(run)
    variants = {**results.variants,
                "xmpp-message": VariantResult(error="prosody did not start within 10 s")}
    write_results(replace(results, variants=variants), run)
    done = run_cli("report", str(run), *(["--json"] if as_json else []))
    assert done.returncode == 1, done.stderr
    failure = "testbed: xmpp-message: prosody did not start within 10 s"
    assert done.stderr.splitlines() == [failure]
    assert (run / "report.html").stat().st_size > 0
    if as_json:
        assert json.loads(done.stdout)["content"]["variants"]["xmpp-message"]["error"]
    else:
        assert "coap-get" in done.stdout and f"report: {run / 'report.html'}" in done.stdout


def test_a_delta_against_a_failed_variant_says_which_run_and_exits_1(tmp_path: Path) -> None:
    """Two runs compared: the delta is still written, then one line per failed variant naming
    its run, status 1 (a delta against a failure is no comparison)."""
    a = tiny_run(tmp_path, "aaaaaa", delivered=4, coap_bytes=900)
    b = tiny_run(tmp_path, "bbbbbb", delivered=4, coap_bytes=800)
    results = read_results(b)
    write_results(replace(results, variants={**results.variants, "xmpp-iq": VariantResult(
        error="the sink still lacked readings")}), b)
    done = run_cli("report", str(a), str(b))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [f"testbed: {b}: xmpp-iq: the sink still lacked readings"]
    assert (b / "delta.html").stat().st_size > 0 and "delta report:" in done.stdout
