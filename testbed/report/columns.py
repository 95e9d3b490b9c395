"""The verdict table's columns: header, cell text and sort value, shared by the terminal
table, summary.md and report.html so the three show the same figures the same way.

model.py says what each figure means; table_caption there says it to the reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from testbed.report.model import VariantFigures


def _num(digits: int = 0) -> Callable[[float | None], str]:
    return lambda v: "-" if v is None else f"{v:,.{digits}f}"


def size_text(n: int) -> str:
    """A file size as people read it: 812 B, 35.2 kB, 1.4 MB."""
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} kB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def row_digits(*values: float | None) -> int:
    """Decimals for a row of a delta table: none for whole numbers or large ones, else 1-2,
    the same for A, B and the change so they line up."""
    present = [abs(float(v)) for v in values if v is not None]
    if not present or all(v.is_integer() for v in present) or max(present) >= 100:
        return 0
    return 1 if max(present) >= 10 else 2


def figure_text(value: float | None, digits: int = 0, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    if signed and value == 0:
        return f"{0:.{digits}f}"
    return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    cell: Callable[[VariantFigures], str]
    value: Callable[[VariantFigures], float | str | None]  # what a click on the header sorts
    numeric: bool = True


def _column(header: str, get: Callable[[VariantFigures], float | None], digits: int = 0
            ) -> Column:
    fmt = _num(digits)
    return Column(header, lambda f: fmt(get(f)), get)


def _per_reading(header: str, get: Callable[[VariantFigures], float | None], digits: int = 0
                 ) -> Column:
    """A figure of the per-reading split: '≈' before it where the split was inferred by time
    (model.VariantFigures.inferred_split), so the table never shows an inference as found."""
    fmt = _num(digits)
    return Column(header, lambda f: ("≈" if f.inferred_split and get(f) is not None else "")
                  + fmt(get(f)), get)


COLUMNS: tuple[Column, ...] = (
    Column("variant", lambda f: f.name, lambda f: f.name, numeric=False),
    Column("delivered/sent", lambda f: f.delivered_cell, lambda f: f.delivered),
    _column("frames", lambda f: f.frames),
    _column("PSDU bytes", lambda f: f.psdu_bytes),
    _column("all-in B/rdg", lambda f: f.all_in_bytes_per_reading),
    _per_reading("steady B/rdg", lambda f: f.steady_bytes_per_reading),
    _per_reading("msg B", lambda f: f.message_bytes),
    Column("1 frame", lambda f: ("≈" if f.inferred_split and f.messages else "")
           + f.one_frame_cell,
           lambda f: None if not f.messages else (f.message_one_frame or 0) / f.messages),
    _per_reading("frames/rdg", lambda f: f.frames_per_reading, 1),
    _column("set-up B", lambda f: f.setup_bytes),
    _column("latency p50 ms", lambda f: f.latency_p50_ms),
    _column("p95 ms", lambda f: f.latency_p95_ms),
    _column("set-up ms", lambda f: f.setup_ms_p50),
    _column("reconnects", lambda f: f.reconnects),
    _column("mJ/reading", lambda f: f.energy_mj_per_reading, 1),
    _column("mJ/rdg DC", lambda f: f.energy_duty_mj_per_reading, 1),
    _column("life d", lambda f: f.lifetime_days, 1),
    _column("bytecode B", lambda f: f.bytecode_bytes),
    Column("heap", lambda f: f.heap.verdict, lambda f: f.heap.verdict, numeric=False),
)
