"""Each plot draws the run's figures (hand-checked labels from runs.py), or is left out when
the run has nothing for it; hostile strings stay text."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from testbed.experiment.results import Air, read_results
from testbed.report import plots
from testbed.report.columns import COLUMNS
from testbed.report.model import heap_figures, variant_figures
from testbed.report.palette import variant_colours
from testbed.report.rundir import read_run
from tests.report.runs import coap, write_run


def _inputs(run_dir: Path):  # type: ignore[no-untyped-def]
    results = read_results(run_dir)
    return results, variant_figures(results), variant_colours(results.variants)


def _drawn(svg: str) -> int:
    """Filled shapes: matplotlib writes bars and markers as <path> (rects included)."""
    return len(re.findall(r"<path\b", svg))


def test_layers_per_delivered_reading(synthetic_run: Path) -> None:
    plot = plots.layer_bytes(*_inputs(synthetic_run))
    assert plot is not None and plot.id == "plot-layers"
    assert "280 B" in plot.svg  # 2240 B (PSDU + PHY) / 8 readings
    assert "1,650 B" in plot.svg  # 13200 / 8
    for label in ("PHY (SHR+PHR)", "6LoWPAN", "application", "steady state per reading"):
        assert label in plot.svg
    assert _drawn(plot.svg) > 2 * 7
    assert "air.by_layer" in plot.caption


def test_layer_labels_are_the_tables_all_in_figures(sample_run: Path) -> None:
    """The figure at a bar's end is the verdict table's all-in B/rdg, cell for cell (they once
    disagreed: 278 B in the plot, 242 in the table, for coap-get)."""
    results, figures, colours = _inputs(sample_run)
    plot = plots.layer_bytes(results, figures, colours)
    assert plot is not None
    labels = re.findall(r"<text\b[^>]*>([\d,.]+) B</text>", plot.svg)
    column = next(c for c in COLUMNS if c.header == "all-in B/rdg")
    assert labels == [column.cell(f) for f in figures]
    assert labels[0] == "278"  # coap-get: 3330 B on the air incl. PHY / 12 readings


def test_frames_and_fragments(synthetic_run: Path) -> None:
    plot = plots.frames_and_fragments(*_inputs(synthetic_run))
    assert plot is not None
    assert "3.0 steady · 5.0 all-in" in plot.svg  # 40 frames / 8 readings
    assert "12.0 steady · 25.0 all-in" in plot.svg
    assert "5.0 · 12/60 datagrams fragmented, ≤5 fragments" in plot.svg  # 40 fragments / 8
    assert "no datagram fragmented" in plot.svg


def test_energy_by_node_and_state(synthetic_run: Path) -> None:
    plot = plots.energy_by_state(*_inputs(synthetic_run))
    assert plot is not None
    for title in ("TX (sending frames)", "RX (receiving frames)", "listen (idle, radio on)"):
        assert title in plot.svg
    assert "sleep (radio off)" not in plot.svg  # 0 mJ everywhere in always-on mode
    assert "Not drawn (0 mJ everywhere): sleep." in plot.caption
    assert "Runs lasted 4.0–12.0 s" in plot.caption
    assert "energy (mJ)" in plot.svg


def test_latency_cdf_counts_first_copies(synthetic_run: Path) -> None:
    run = read_run(synthetic_run)
    plot = plots.latency_cdf(run.latencies_ms, variant_colours(run.results.variants))
    assert plot is not None
    assert "coap-observe-non (n=8)" in plot.svg and "xmpp-message (n=8)" in plot.svg
    assert "log scale" in plot.svg


def test_memory_code_and_heap(synthetic_run: Path) -> None:
    results = read_results(synthetic_run)
    heaps = {app: heap_figures(m.get("heap")) for app, m in results.memory.items()}
    plot = plots.memory_bars(results.memory, heaps)
    assert plot is not None
    assert "9,000 B" in plot.svg and "14,000 B" in plot.svg
    assert "fits: 7,000 of 10,000 B" in plot.svg
    assert "MemoryError in compile+import xmltok (+97 B)" in plot.svg
    assert "micropython-test" in plot.caption


def test_nothing_to_draw_leaves_the_plot_out(tmp_path: Path) -> None:
    bare = replace(coap(), air=Air(frames=3, bytes=100, ack_frames=1), energy={})
    run_dir = write_run(tmp_path / "run", variants={"coap-get": bare}, memory={})
    results, figures, colours = _inputs(run_dir)
    assert plots.layer_bytes(results, figures, colours) is None
    assert plots.energy_by_state(results, figures, colours) is None
    assert plots.memory_bars(results.memory, {}) is None
    assert plots.latency_cdf({"coap-get": []}, colours) is None
    assert plots.frames_and_fragments(results, figures, colours) is not None


def test_hostile_names_stay_text(tmp_path: Path) -> None:
    name = "coap-<img src=x onerror=alert(1)>-$x$"
    run_dir = write_run(tmp_path / "run", variants={name: coap()})
    results, figures, colours = _inputs(run_dir)
    svg = plots.layer_bytes(results, figures, colours).svg  # type: ignore[union-attr]
    assert "<img" not in svg and "coap-&lt;img src=x onerror=alert(1)&gt;-$x$" in svg
