"""rich tables for the terminal: the verdict table of a run and the delta of two runs.

The CLI prints them (`testbed compare`, `testbed report A B`). Same columns and caption as
report.html and summary.md (columns.py, model.table_caption).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from testbed.experiment.results import Results
from testbed.report.columns import COLUMNS, figure_text, row_digits
from testbed.report.delta import RunDelta
from testbed.report.model import table_caption, table_title, variant_figures
from testbed.report.spread import spread_caption, spread_rows

STYLES = {"ok": None, "lossy": "yellow", "failed": "red"}
CHANGE_STYLES = {"better": "green", "worse": "red", "same": "dim", "n/a": "dim"}


def verdict_table(results: Results) -> Table:
    """Per variant: delivered, frames and bytes, per-reading costs, latency, energy, memory."""
    table = Table(title=Text(table_title(results)), caption=Text(table_caption(results)))
    for column in COLUMNS:
        if column.numeric:
            table.add_column(column.header, justify="right")
        else:
            table.add_column(column.header, no_wrap=column.header == "variant")
    for f in variant_figures(results):
        table.add_row(*(Text(c.cell(f)) for c in COLUMNS), style=STYLES[f.status])
    return table


def spread_table(results: Results) -> Table | None:
    """compare --repeat: per variant and figure, the median and its interval over the repeats."""
    rows = spread_rows(results)
    if not rows:
        return None
    table = Table(title=Text("spread over the repeats"), caption=Text(spread_caption(results)))
    for header in ("variant", "figure", "median [interval]"):
        table.add_column(header, justify="right" if header.startswith("median") else "left",
                         no_wrap=header == "variant")
    previous = None
    for name, figure, text in rows:
        table.add_row(Text(name if name != previous else ""), Text(figure), Text(text),
                      end_section=False)
        previous = name
    return table


def delta_table(delta: RunDelta) -> Table:
    """Per variant in both runs, per figure: A, B, B - A, in % of A; green better, red worse."""
    table = Table(title=Text(f"A: {delta.a.title}\nB: {delta.b.title}"))
    for header in ("variant", "figure", "A", "B", "Δ", "Δ %"):
        table.add_column(header, justify="left" if header in ("variant", "figure") else "right",
                         no_wrap=header == "variant")
    for v in delta.variants:
        for i, f in enumerate(v.figures):
            style = CHANGE_STYLES[f.change]
            d = row_digits(f.a, f.b, f.delta)
            table.add_row(Text(v.variant if i == 0 else ""), Text(f"{f.label} ({f.unit})"),
                          figure_text(f.a, d), figure_text(f.b, d),
                          Text(figure_text(f.delta, d, signed=True), style=style),
                          Text(f.pct_text, style=style), end_section=i == len(v.figures) - 1)
    captions = [*delta.notes]
    if delta.only_a:
        captions.append("only in A: " + ", ".join(delta.only_a))
    if delta.only_b:
        captions.append("only in B: " + ", ".join(delta.only_b))
    if captions:
        table.caption = Text("; ".join(captions))
    return table
