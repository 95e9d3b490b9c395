"""A drawn plot as the page holds it: element id, title, caption, inline SVG.

Apart from plots.py (which draws with matplotlib) so that the HTML, Markdown and terminal
paths never import matplotlib: a `testbed compare` that only prints a table does not pay
the second it takes to load.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plot:
    """One <figure>: its SVG's element id, title (what is drawn), caption (how measured)."""

    id: str
    title: str
    caption: str
    svg: str


def plain(text: object) -> str:
    """Text for matplotlib without mathtext: a `$` in a label stays a dollar sign."""
    return str(text).replace("$", r"\$")
