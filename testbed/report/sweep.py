"""The sweep's report (`testbed sweep`): report.html (each figure against N per variant on
log-log axes with its fitted power law, the growth table, every point) and summary.md.

Reads the sweep's results.json (experiment/sweep.py) only; measures nothing. One seed per
size: the bars are the point itself (no spread; `compare --repeat` gives spread).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.experiment.sweep import FIGURES
from testbed.report.plot import Plot
from testbed.report.study import loglog_plot

RESULTS = "results.json"
PLOTTED = tuple(FIGURES)  # every figure the sweep keeps


def read_sweep(directory: Path) -> dict[str, Any]:
    path = directory / RESULTS if directory.is_dir() else directory
    try:
        data = json.loads(path.read_text())
        if data.get("study") != "sweep" or not isinstance(data.get("points"), dict):
            raise ValueError("not a sweep")
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not a sweep's results.json ({exc})") from exc
    return data


def sweep_plots(sweep: Mapping[str, Any]) -> list[Plot]:
    fits = {(g["variant"], g["figure"]): g for g in sweep.get("growth", [])}
    plots = []
    for i, figure in enumerate(PLOTTED):
        data: dict[str, list[tuple[int, float, float, float]]] = {}
        for p in sorted(sweep["points"].values(), key=lambda p: p["nodes"]):
            for variant, figures in p["variants"].items():
                value = figures.get(figure)
                if isinstance(value, (int, float)):
                    data.setdefault(variant, []).append((p["nodes"], value, value, value))
        if not data:
            continue
        plots.append(loglog_plot(
            f"plot-sweep-{i}", f"{figure} against the grid's size", figure,
            "One run per size (seed " + str(sweep["sweep"]["seed"]) + "); dashed: y = a N^b "
            "fitted over the sizes (growth table).", data,
            {v: fit for v in data if (fit := fits.get((v, figure))) is not None}))
    return plots


def summary_markdown(sweep: Mapping[str, Any]) -> str:
    s = sweep["sweep"]
    lines = [f"### Sweep on {s['topology']} grids of {', '.join(map(str, s['sizes']))} nodes "
             f"({s['platform']}, {s['readings']} readings every {s['interval_s']:g} s, payload "
             f"{s['payload']}, seed {s['seed']})", "",
             "**Growth with N** (y = a N^b over the sizes):", "",
             "| variant | figure | b | R² | growth |", "|---|---|---:|---:|---|"]
    lines += [f"| {g['variant']} | {g['figure']} | {g['b']:.2f} | {g['r2']:.2f} "
              f"| {g['growth']} |" for g in sweep.get("growth", [])]
    lines += ["", "| N | variant | " + " | ".join(PLOTTED) + " |",
              "|---:|---|" + "---:|" * len(PLOTTED)]
    for p in sorted(sweep["points"].values(), key=lambda p: p["nodes"]):
        for variant, figures in p["variants"].items():
            cells = [_cell(figures.get(f)) for f in PLOTTED]
            lines.append(f"| {p['nodes']} | {variant} | " + " | ".join(cells) + " |")
        for variant, error in (p.get("errors") or {}).items():
            lines.append(f"| {p['nodes']} | {variant} | failed: {error} |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.2f}" if value < 10 else f"{value:,.0f}"


def render_sweep(directory: Path) -> tuple[Path, Path]:
    """Write report.html and summary.md into the sweep's directory."""
    from testbed.report.html import _page

    sweep = read_sweep(directory)
    summary = summary_markdown(sweep)
    html = _page("sweep.html.j2", sweep=sweep, plots=sweep_plots(sweep), summary=summary,
                 title=f"Sweep {directory.name}")
    report = directory / "report.html"
    report.write_text(html)
    (directory / "summary.md").write_text(summary)
    return report, directory / "summary.md"
