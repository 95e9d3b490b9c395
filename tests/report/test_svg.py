"""A matplotlib figure becomes an inline <svg> that names no URL and scales with the page."""

from __future__ import annotations

import re

from testbed.report.svg import new_figure, plot_style, to_svg


def _svg(element_id: str) -> str:
    with plot_style(element_id):
        fig = new_figure(4, 3)
        ax = fig.add_subplot()
        ax.bar(["a", "b"], [1, 2])
        ax.set_xlabel("bytes (B) <&>")
        return to_svg(fig, element_id=element_id)


def test_inline_svg_without_prolog_metadata_or_urls() -> None:
    svg = _svg("plot-x")
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    assert "http" not in svg
    head = svg.split(">", 1)[0]
    assert 'id="plot-x"' in head and "viewBox=" in head
    assert not re.search(r'\s(width|height)="', head)  # sized by CSS
    assert re.search(r'max-width: \d+px', head)


def test_text_stays_text_and_is_escaped() -> None:
    svg = _svg("plot-y")
    assert "bytes (B) &lt;&amp;&gt;" in svg


def test_clip_path_ids_differ_between_plots() -> None:
    ids = [set(re.findall(r'<clipPath id="([^"]+)"', _svg(name))) for name in ("p-a", "p-b")]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
