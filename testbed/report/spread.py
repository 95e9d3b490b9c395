"""How much a figure moves between repeats of the same comparison (`compare --repeat N`).

Each repeat runs every variant again with another seed (radio medium, start offsets, values).
A figure's spread is its median over the repeats and a distribution-free confidence interval
for that median from order statistics (the sign-test interval): with B ~ Binomial(n, 1/2),
the interval [x_(k), x_(n+1-k)] covers the true median with probability 1 - 2 P(B < k); k is
the largest that keeps this at or above 95 %. Below 6 repeats no k reaches 95 % and the whole
range is the interval, with the confidence it has (93.8 % for 5, 87.5 % for 4): the section
says which. No assumption of normal noise: latencies and set-up times are skewed.

Two variants differ in a figure only when their intervals do not overlap (`differ`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testbed.experiment.results import Results
from testbed.report.model import HEADLINE_UNITS, headline_figures, protocol_of

LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Spread:
    """A figure over n repeats: median, the interval [low, high] and its confidence."""

    median: float
    low: float
    high: float
    n: int
    confidence: float
    values: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "low": self.low, "high": self.high, "n": self.n,
                "confidence": round(self.confidence, 4), "values": list(self.values)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Spread:
        return cls(float(data["median"]), float(data["low"]), float(data["high"]),
                   int(data["n"]), float(data["confidence"]),
                   tuple(float(v) for v in data.get("values", ())))


def _below(k: int, n: int) -> float:
    """P(B < k) for B ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k)) / 2 ** n


def median_interval(values: Sequence[float], level: float = LEVEL) -> Spread:
    """The median of `values` and the order-statistic interval for it (module docstring)."""
    if not values:
        raise ValueError("no values to take a median of")
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    k = 1  # the whole range: confidence 1 - 2 / 2^n
    while k + 1 <= (n + 1) // 2 and 1 - 2 * _below(k + 1, n) >= level:
        k += 1
    confidence = 1 - 2 * _below(k, n)
    return Spread(median, ordered[k - 1], ordered[n - k], n, confidence, tuple(values))


def differ(a: Spread, b: Spread) -> bool:
    """True when the intervals do not overlap: a difference the repeats support."""
    return a.high < b.low or b.high < a.low


def spread_section(runs: Sequence[Results], directories: Sequence[str]) -> dict[str, Any]:
    """results.json's `repeats`: the seeds and run directories, and per variant and headline
    figure its Spread over the repeats that measured it (a variant that failed in a repeat
    contributes nothing there)."""
    variants: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(n for r in runs for n in r.variants):
        figures: dict[str, list[float]] = {}
        for results in runs:
            result = results.variants.get(name)
            if result is None or not result.ok:
                continue
            for figure, value in headline_figures(result).items():
                if value is not None:
                    figures.setdefault(figure, []).append(float(value))
        variants[name] = {f: median_interval(v).to_json() for f, v in figures.items()}
    return {"n": len(runs), "seeds": [r.seed for r in runs], "runs": list(directories),
            "level": LEVEL, "variants": variants}


def spreads(results: Results) -> dict[str, dict[str, Spread]]:
    """The `repeats` section of a run read back: variant -> figure -> Spread (empty when the
    run was not repeated)."""
    section = results.repeats or {}
    return {name: {f: Spread.from_json(s) for f, s in figures.items() if f in HEADLINE_UNITS}
            for name, figures in (section.get("variants") or {}).items()}


#: the figures the spread table, plot and verdict show, in order: (key, label, unit)
SHOWN = (
    ("steady_bytes_per_reading", "steady B/rdg", "B"),
    ("all_in_bytes_per_reading", "all-in B/rdg", "B"),
    ("frames_per_reading", "frames/rdg", "frames"),
    ("setup_bytes", "set-up B", "B"),
    ("latency_p50_ms", "latency p50", "ms"),
    ("latency_p95_ms", "latency p95", "ms"),
    ("energy_mj_per_reading", "mJ/reading", "mJ"),
    ("energy_duty_mj_per_reading", "mJ/reading duty-cycled", "mJ"),
    ("delivered", "delivered", "readings"),
)
#: the figures the verdict names a difference in (best XMPP variant vs best CoAP variant)
COMPARED = ("steady_bytes_per_reading", "all_in_bytes_per_reading", "latency_p50_ms",
            "energy_mj_per_reading", "energy_duty_mj_per_reading")


def spread_text(s: Spread) -> str:
    """'672 [640, 701]' with the digits the value needs."""
    digits = 0 if max(abs(s.low), abs(s.high)) >= 100 else 1 if s.high >= 10 else 2
    return f"{s.median:,.{digits}f} [{s.low:,.{digits}f}, {s.high:,.{digits}f}]"


def spread_rows(results: Results) -> list[tuple[str, str, str]]:
    """(variant, figure label with unit, 'median [low, high]') for every shown figure."""
    rows = []
    for name, figures in spreads(results).items():
        for key, label, unit in SHOWN:
            if key in figures:
                rows.append((name, f"{label} ({unit})", spread_text(figures[key])))
    return rows


def spread_caption(results: Results) -> str:
    section = results.repeats
    seeds = section.get("seeds") or []
    levels = sorted({round(s.confidence * 100, 1) for f in spreads(results).values()
                     for s in f.values()})
    level = ", ".join(f"{v:g} %" for v in levels) or "-"
    return (f"{section.get('n', len(seeds))} repeats, seeds {', '.join(map(str, seeds))}: "
            f"median [interval] of each figure; the interval is the sign-test interval for the "
            f"median from the repeats' order statistics (confidence {level}; 95 % needs 6 or "
            f"more repeats). Repeats' run directories: {', '.join(section.get('runs') or [])}.")


def spread_verdict(results: Results) -> list[str]:
    """One sentence per compared figure: the best XMPP and the best CoAP variant by median,
    and whether their intervals separate them."""
    table = spreads(results)
    if not table:
        return []
    lines = []
    for key, label, unit in SHOWN:
        if key not in COMPARED:
            continue
        best: dict[str, tuple[str, Spread]] = {}
        for name, figures in table.items():
            proto = protocol_of(name)
            if key in figures and proto and (proto not in best
                                             or figures[key].median < best[proto][1].median):
                best[proto] = (name, figures[key])
        if "xmpp" not in best or "coap" not in best:
            continue
        (xn, xs), (cn, cs) = best["xmpp"], best["coap"]
        if differ(xs, cs):
            lower, higher = ((xn, xs), (cn, cs)) if xs.median < cs.median else ((cn, cs), (xn, xs))
            ratio = f" ({higher[1].median / lower[1].median:.1f}x)" if lower[1].median > 0 else ""
            lines.append(f"Over {xs.n} repeats, {label} is lower for {lower[0]} "
                         f"({spread_text(lower[1])} {unit}) than for {higher[0]} "
                         f"({spread_text(higher[1])} {unit}){ratio}: the intervals do not overlap.")
        else:
            lines.append(f"Over {xs.n} repeats, {label} of {xn} ({spread_text(xs)} {unit}) and "
                         f"{cn} ({spread_text(cs)} {unit}) cannot be told apart: the intervals "
                         f"overlap.")
    return lines
