"""The comparison report: report.html (plots, topology, captures, manifest), summary.md for
CI job summaries, rich tables for the terminal, and the delta of two runs.

It reads a run directory (results.json, run.json, the variants' deliveries and captures) and
measures nothing: `render_report` can run again at any time. Layering: above experiment/
(it reads results.json through experiment.results), below the CLI and the pytest plugin.
"""

from __future__ import annotations

from testbed.report.delta import RunDelta, compare_runs, write_delta_report
from testbed.report.markdown import summary_markdown
from testbed.report.render import ReportFiles, render_report
from testbed.report.terminal import delta_table, spread_table, verdict_table

__all__ = [
    "ReportFiles",
    "RunDelta",
    "compare_runs",
    "delta_table",
    "render_report",
    "summary_markdown",
    "spread_table",
    "verdict_table",
    "write_delta_report",
]
