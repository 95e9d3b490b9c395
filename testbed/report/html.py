"""report.html and delta.html: jinja2 templates (templates/, autoescaped) filled with the
figures, the plots and the manifest.

Self-contained: CSS and the one small script (sortable columns) are inlined, plots are inline
SVG, nothing is fetched. A Content-Security-Policy in the page says so to the browser too:
nothing may load, and the only script allowed is ours, by its hash; so even a string that
slipped past escaping could not run. What it is not: the figures' arithmetic (model.py) or
the drawing (plots.py).
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import jinja2

from testbed import __version__
from testbed.config.topology import Radio
from testbed.report.columns import COLUMNS, figure_text, row_digits, size_text
from testbed.report.model import (
    DISCOVERY_WHAT, ENERGEST_WHAT, MEASURED_WHAT, discovery_rows, energest_rows,
    firmware_caption, firmware_tables, measured_rows, memory_lines, ms, ms_range, num,
    outcome_counts, pct, phase_cell, run_line, table_caption, variant_figures,
)
from testbed.report.palette import variant_colours
from testbed.report.spread import spread_caption, spread_rows
from testbed.report.plot import Plot
from testbed.report.rundir import RunFiles, versions_of
from testbed.report.verdict import verdict_lines

if TYPE_CHECKING:
    from testbed.report.delta import RunDelta

TEMPLATES = "templates"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("testbed.report", TEMPLATES), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def _asset(name: str) -> str:
    return (files("testbed.report") / TEMPLATES / name).read_text(encoding="utf-8")


def content_security_policy(script: str) -> str:
    """Nothing loads from anywhere; inline styles; only the script with this exact text runs."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")


def _page(template: str, **context: Any) -> str:
    script = _asset("sortable.js")
    return _environment().get_template(template).render(
        css=_asset("report.css"), script=script, csp=content_security_policy(script),
        testbed_version=__version__, **context,
    )


def render_report_html(run: RunFiles, plots: Sequence[Plot], topology: Plot | None) -> str:
    results = run.results
    figures = variant_figures(results)
    colours = variant_colours(results.variants)
    rows = [{
        "status": f.status, "colour": colours[f.name], "error": f.error,
        "cells": [{"text": c.cell(f), "sort": _sort(c.value(f)), "numeric": c.numeric,
                   "title": f.heap.error if c.header == "heap" else None} for c in COLUMNS],
    } for f in figures]
    manifest = run.manifest
    captures = [{"variant": c.variant, "href": c.href, "name": c.name, "frames": c.frames,
                 "size": "-" if c.size_bytes is None else size_text(c.size_bytes)}
                for c in run.captures]
    return _page(
        "report.html.j2",
        title=f"XMPP vs CoAP: run {results.run_id} on {results.topology}",
        results=results, run_line=run_line(run),
        verdict=verdict_lines(results), columns=COLUMNS, rows=rows,
        caption=table_caption(results), memory_lines=memory_lines(results.memory),
        errors=[(f.name, f.error) for f in figures if f.error],
        plots=list(plots), topology=topology, colours=colours,
        captures=captures,
        prefix=str((run.topology.radio if run.topology else Radio()).prefix),  # default if none
        manifest=manifest, versions=versions_of(manifest),
        argv=shlex.join(manifest.argv) if manifest and manifest.argv else "",
        directory_name=run.directory.name, tests=run.tests,
        test_counts=outcome_counts(run), notes=run.notes,
        firmware=firmware_tables(results.memory), firmware_caption=firmware_caption(
            results.memory), energest=energest_rows(results), energest_what=ENERGEST_WHAT,
        measured=measured_rows(results), measured_what=MEASURED_WHAT,
        discovery=discovery_rows(results), discovery_what=DISCOVERY_WHAT,
        spread=spread_rows(results), spread_caption=spread_caption(results)
        if results.repeats else "",
        ms=ms, ms_range=ms_range, pct=pct, num=num, phase_cell=phase_cell,
    )


def render_delta_html(delta: RunDelta, plot: Plot | None) -> str:
    colours = variant_colours(v.variant for v in delta.variants)
    rows = []
    for v in delta.variants:
        for i, f in enumerate(v.figures):
            d = row_digits(f.a, f.b, f.delta)
            rows.append({
                "first": i == 0, "variant": v.variant, "colour": colours[v.variant],
                "label": f.label, "unit": f.unit, "change": f.change,
                "a": figure_text(f.a, d), "b": figure_text(f.b, d),
                "delta": figure_text(f.delta, d, signed=True),
                "pct": f.pct_text,
                "a_sort": _sort(f.a), "b_sort": _sort(f.b), "delta_sort": _sort(f.delta),
                "pct_sort": _sort(f.delta_pct),
            })
    return _page("delta.html.j2", title=f"run {delta.a.run_id} against run {delta.b.run_id}",
                 delta=delta, rows=rows, plot=plot)


def _sort(value: object) -> str:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, (int, float)) else str(value)
