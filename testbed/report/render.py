"""`render_report(run_dir)`: read a run directory, draw its plots, write report.html and
summary.md beside results.json.

It can run again at any time (`testbed report RUN_DIR`): everything comes from the run's
files, nothing is measured again. `run_dir` may also be its results.json. Bad results.json
is a BadInput naming the file; everything else missing or unreadable only leaves its part of
the report out, with a note saying so; a report that cannot be written is a TestbedError
naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import TestbedError
from testbed.report.html import render_report_html
from testbed.report.markdown import markdown_of
from testbed.report.model import app_memory, heap_figures, variant_figures
from testbed.report.palette import variant_colours
from testbed.report.plot import Plot
from testbed.report.rundir import RunFiles, read_run

REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.md"


@dataclass(frozen=True, slots=True)
class ReportFiles:
    html: Path
    markdown: Path


def run_plots(run: RunFiles) -> list[Plot]:
    """The plots of a run, in reading order; those without data are left out."""
    from testbed.report import plots  # matplotlib: loaded only when something is drawn

    results = run.results
    figures = variant_figures(results)
    colours = variant_colours(results.variants)
    apps = app_memory(results.memory)
    heaps = {app: heap_figures(m.get("heap")) for app, m in apps.items()}
    drawn = [
        plots.layer_bytes(results, figures, colours),
        plots.frames_and_fragments(results, figures, colours),
        plots.energy_by_state(results, figures, colours),
        plots.latency_cdf(run.latencies_ms, colours),
        plots.spread_intervals(results, colours),
        plots.memory_bars(apps, heaps),
        plots.firmware_bars(results.memory),
    ]
    return [p for p in drawn if p is not None]


def render_report(run_dir: Path) -> ReportFiles:
    """Write `<run_dir>/report.html` and `<run_dir>/summary.md`; return their paths."""
    from testbed.report.topology_drawing import topology_plot  # matplotlib, as above

    run = read_run(Path(run_dir))
    topology = topology_plot(run.topology) if run.topology is not None else None
    html = write_report_file(run.directory / REPORT_FILE,
                             render_report_html(run, run_plots(run), topology))
    markdown = write_report_file(run.directory / SUMMARY_FILE, markdown_of(run))
    return ReportFiles(html=html, markdown=markdown)


def write_report_file(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically: a browser reloading the report never sees half a
    page. A path that cannot be written (a directory there, no permission, a full disk) is a
    TestbedError naming it, and leaves no temporary file behind."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the directory itself is not writable: nothing was created in it
        raise TestbedError(f"{path}: cannot write the report ({exc.strerror or exc})") from exc
    return path
