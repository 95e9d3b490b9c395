"""Two runs compared: for each variant both ran, each verdict figure in A, in B, and the change.

`compare_runs(a, b)` reads the two results.json (BadInput names the file at fault) and
returns a `RunDelta`: JSON for scripts, Markdown for a CI summary, a self-contained delta.html
(`write_delta_report`), a rich table (terminal.delta_table). The change is B - A, and in
percent of A; whether it is better depends on the figure (fewer bytes, more delivered).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from testbed.errors import TestbedError
from testbed.experiment.results import Results, read_results
from testbed.report.model import DELTA_FIGURES, variant_figures


@dataclass(frozen=True, slots=True)
class FigureDelta:
    key: str
    label: str
    unit: str
    a: float | None
    b: float | None
    delta: float | None  # b - a
    delta_pct: float | None  # (b - a) / a x 100; None when a is 0 or either is missing
    lower_is_better: bool

    @property
    def change(self) -> str:
        """better / worse / same / n/a, seen from A to B."""
        if self.delta is None:
            return "n/a"
        if self.delta == 0:
            return "same"
        return "better" if (self.delta < 0) == self.lower_is_better else "worse"

    @property
    def pct_text(self) -> str:
        """The change in percent of A as every delta table shows it: +12.5 %, or -."""
        return "-" if self.delta_pct is None else f"{self.delta_pct:+.1f} %"


@dataclass(frozen=True, slots=True)
class VariantDelta:
    variant: str
    figures: tuple[FigureDelta, ...]

    def figure(self, key: str) -> FigureDelta:
        """The figure keyed `key` (DELTA_FIGURES' keys); KeyError for another key."""
        for f in self.figures:
            if f.key == key:
                return f
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class RunSide:
    """Which run a side of the comparison is."""

    directory: str
    run_id: str
    topology: str
    readings: int
    interval_s: float
    seed: int

    @classmethod
    def of(cls, directory: Path, results: Results) -> RunSide:
        return cls(str(directory), results.run_id, results.topology, results.readings,
                   results.interval_s, results.seed)

    @property
    def title(self) -> str:
        return (f"run {self.run_id} ({self.topology}, {self.readings} readings every "
                f"{self.interval_s:g} s, seed {self.seed})")


@dataclass(frozen=True, slots=True)
class RunDelta:
    a: RunSide
    b: RunSide
    variants: tuple[VariantDelta, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what makes the two runs not like for like

    def to_json(self) -> dict[str, Any]:
        return {
            "a": asdict(self.a), "b": asdict(self.b),
            "variants": {v.variant: {f.key: {"label": f.label, "unit": f.unit, "a": f.a,
                                             "b": f.b, "delta": f.delta,
                                             "delta_pct": f.delta_pct, "change": f.change}
                                     for f in v.figures}
                         for v in self.variants},
            "only_a": list(self.only_a), "only_b": list(self.only_b), "notes": list(self.notes),
        }

    def markdown(self) -> str:
        from testbed.report.markdown import delta_markdown  # markdown.py formats; no cycle

        return delta_markdown(self)


def compare_runs(a: Path, b: Path) -> RunDelta:
    """Per variant present in both runs, per figure: A, B, B - A and (B - A) / A in %."""
    ra, rb = read_results(a), read_results(b)
    fa = {f.name: f for f in variant_figures(ra)}
    fb = {f.name: f for f in variant_figures(rb)}
    both = [n for n in fa if n in fb]
    variants = tuple(
        VariantDelta(name, tuple(_figure_delta(fig.key, fig.label, fig.unit, fig.get(fa[name]),
                                               fig.get(fb[name]), fig.lower_is_better)
                                 for fig in DELTA_FIGURES))
        for name in both)
    return RunDelta(
        a=RunSide.of(Path(a), ra), b=RunSide.of(Path(b), rb), variants=variants,
        only_a=tuple(n for n in fa if n not in fb), only_b=tuple(n for n in fb if n not in fa),
        notes=tuple(_notes(ra, rb)),
    )


def _figure_delta(key: str, label: str, unit: str, a: float | None, b: float | None,
                  lower_is_better: bool) -> FigureDelta:
    delta = None if a is None or b is None else b - a
    pct = None if delta is None or not a else delta / a * 100.0
    return FigureDelta(key, label, unit, a, b, delta, pct, lower_is_better)


def _notes(a: Results, b: Results) -> list[str]:
    notes = []
    if a.topology != b.topology:
        notes.append(f"the runs used different topologies ({a.topology} and {b.topology})")
    if (a.readings, a.interval_s) != (b.readings, b.interval_s):
        notes.append(f"the runs differ in readings ({a.readings} every {a.interval_s:g} s "
                     f"and {b.readings} every {b.interval_s:g} s): set-up is amortised "
                     "differently and lifetimes use different rates")
    return notes


def write_delta_report(delta: RunDelta, out_dir: Path) -> Path:
    """Write `out_dir/delta.html` (self-contained: table and a grouped bar plot A vs B),
    atomically like report.html; a TestbedError names a path that cannot be written."""
    from testbed.report.delta_plot import delta_plot
    from testbed.report.html import render_delta_html
    from testbed.report.render import write_report_file

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TestbedError(f"{out_dir}: cannot create the report directory "
                           f"({exc.strerror or exc})") from exc
    return write_report_file(out_dir / "delta.html", render_delta_html(delta, delta_plot(delta)))
