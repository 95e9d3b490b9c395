"""A matplotlib figure as an SVG fragment to inline in report.html.

Figures are made with `matplotlib.figure.Figure` directly, never through pyplot: no global
figure registry to leak into, no GUI backend to pick (the SVG canvas draws them), and a
figure is freed as soon as the report drops it. Text stays text (`svg.fonttype: none`): the
page is smaller, and a reader can select and search the labels. The XML prolog, DOCTYPE,
RDF metadata and namespace declarations go: inline SVG in HTML needs none of them, and a
report must not name any URL (it works offline, from file://).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
from matplotlib.figure import Figure

STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.8,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.dpi": 100,
}

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_SIZE = re.compile(r'\s+(?:width|height)="[^"]*"')
_VIEWBOX = re.compile(r'viewBox="[-\d.]+ [-\d.]+ (?P<w>[\d.]+) [\d.]+"')


@contextmanager
def plot_style(salt: str) -> Iterator[None]:
    """The report's look; `salt` makes this plot's clip-path ids unique within the page."""
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": salt}):
        yield


def to_svg(fig: Figure, *, element_id: str) -> str:
    """`fig` as an inline <svg> scaled by CSS (viewBox kept, fixed size dropped)."""
    buffer = io.StringIO()
    with plot_style(element_id):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1), count=1)
    head, rest = text.split(">", 1)
    head = _SIZE.sub("", _NAMESPACES.sub("", head))
    view = _VIEWBOX.search(head)
    width_px = round(float(view["w"]) * 4 / 3) if view else 1000  # viewBox is in points
    head += (f' id="{element_id}" role="img" preserveAspectRatio="xMidYMid meet"'
             f' style="max-width: {width_px}px"')
    return head + ">" + rest


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure sized in inches (1 inch = 100 px on the page at full size)."""
    return Figure(figsize=(width_in, height_in), layout="constrained")
