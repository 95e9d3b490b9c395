"""render_report writes report.html and summary.md beside results.json; bad results.json is a
BadInput naming the file; an older or partial run still renders, saying what is missing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from testbed.errors import BadInput, TestbedError
from testbed.experiment.results import Air
from testbed.report import ReportFiles, render_report, summary_markdown
from tests.report.runs import coap, write_run


def test_writes_both_files_beside_results(synthetic_run: Path) -> None:
    files = render_report(synthetic_run)
    assert files == ReportFiles(html=synthetic_run / "report.html",
                                markdown=synthetic_run / "summary.md")
    assert files.markdown.read_text() == summary_markdown(synthetic_run)
    assert files.html.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(AttributeError):
        files.html = synthetic_run  # type: ignore[misc]  # frozen


def test_rendering_again_replaces_the_files_and_leaves_no_temporaries(synthetic_run: Path) -> None:
    render_report(synthetic_run)
    (synthetic_run / "report.html").write_text("stale")
    render_report(synthetic_run)
    assert "stale" not in (synthetic_run / "report.html").read_text()
    assert not [p for p in synthetic_run.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize(("content", "what"), [
    (None, "FileNotFoundError"), ("{\"run_id\": ", "JSONDecodeError"), ("[]", "TypeError"),
    ('{"run_id": "x"}', "KeyError"),
])
def test_bad_results_json_is_bad_input_naming_the_file(
        tmp_path: Path, content: str | None, what: str) -> None:
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    expected = rf"^{re.escape(str(tmp_path))}/results\.json: not a results\.json \({what}"
    with pytest.raises(BadInput, match=expected):
        render_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_a_bare_old_run_still_renders(tmp_path: Path) -> None:
    """results.json with counted figures only (no analysis, energy or memory), no run.json,
    no topology, no deliveries."""
    bare = replace(coap(), air=Air(frames=30, bytes=1500, ack_frames=10), energy={}, capture=None)
    run_dir = write_run(tmp_path / "run", variants={"coap-get": bare}, memory={}, topology=None)
    (run_dir / "run.json").unlink()
    (run_dir / "coap-get" / "deliveries.jsonl").unlink()
    text = render_report(run_dir).html.read_text()
    assert 'id="plot-frames"' in text
    for absent in ("plot-layers", "plot-energy", "plot-latency", "plot-memory", "plot-topology"):
        assert f'id="{absent}"' not in text
    assert "run.json is missing" in text and "topology not drawn" in text
    assert "No capture in this run." in text


def test_an_interrupted_run_says_so(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run")
    data = json.loads((run_dir / "results.json").read_text())
    (run_dir / "results.json").write_text(json.dumps({**data, "interrupted": "xmpp-iq"}))
    files = render_report(run_dir)
    assert "interrupted during xmpp-iq" in files.html.read_text()
    assert "interrupted during xmpp-iq" in files.markdown.read_text()


def test_a_run_where_no_variant_finished_renders(tmp_path: Path) -> None:
    files = render_report(write_run(tmp_path / "run", variants={}, memory={}))
    assert "No variant finished: nothing to compare." in files.markdown.read_text()
    assert "<figure" in files.html.read_text()  # the topology is still drawn


def _report_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`testbed report` as a user runs it: a subprocess, for its status and stderr."""
    return subprocess.run([sys.executable, "-m", "testbed.cli", "report", *args],
                          capture_output=True, text=True, timeout=180)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    return line


def test_cli_takes_results_json_for_its_run_directory(synthetic_run: Path) -> None:
    done = _report_cli(str(synthetic_run / "results.json"))
    assert done.returncode == 0, done.stderr
    assert (synthetic_run / "report.html").is_file() and (synthetic_run / "summary.md").is_file()
    assert f"report: {synthetic_run / 'report.html'}" in done.stdout


def test_cli_on_another_file_is_bad_input_in_one_line(synthetic_run: Path) -> None:
    done = _report_cli(str(synthetic_run / "run.json"))
    assert done.returncode == 2
    assert _one_line(done).startswith(f"testbed: {synthetic_run / 'run.json'}: not a")


def test_cli_with_deliveries_that_are_a_directory_notes_it(synthetic_run: Path) -> None:
    deliveries = synthetic_run / "xmpp-message" / "deliveries.jsonl"
    deliveries.unlink()
    deliveries.mkdir()
    done = _report_cli(str(synthetic_run))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    note = "xmpp-message/deliveries.jsonl unreadable (IsADirectoryError)"
    assert note in (synthetic_run / "report.html").read_text()
    assert note in (synthetic_run / "summary.md").read_text()


@pytest.mark.parametrize("name", ["report.html", "summary.md"])
def test_cli_cannot_write_the_report_in_one_line(synthetic_run: Path, name: str) -> None:
    (synthetic_run / name).mkdir()
    done = _report_cli(str(synthetic_run))
    assert done.returncode == 1
    assert _one_line(done) == (f"testbed: {synthetic_run / name}: cannot write the report "
                               "(Is a directory)")
    assert not [p for p in synthetic_run.iterdir() if ".tmp" in p.name]


def test_a_report_that_cannot_be_written_is_a_testbed_error(synthetic_run: Path) -> None:
    (synthetic_run / "report.html").mkdir()
    with pytest.raises(TestbedError, match=r"report\.html: cannot write the report"):
        render_report(synthetic_run)
    assert not [p for p in synthetic_run.iterdir() if ".tmp" in p.name]
