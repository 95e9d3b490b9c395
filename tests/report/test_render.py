"""render_report writes report.html and summary.md beside results.json; bad results.json is a
BadInput naming the file; an older or partial run still renders, saying what is missing."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from testbed.errors import BadInput
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
