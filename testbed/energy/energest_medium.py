"""A Contiki node's own Energest next to the medium's radio log, for the same node and time.

What each one measures. Energest (simple-energest on the node's console, energest.py) counts
what the firmware's radio driver says: on TARGET=medium, "Radio Tx" is the wall time the
driver waited on the medium's modelled exchange (CCA, turnaround, airtime, ACK or
macAckWaitDuration) plus the medium's lateness and the host's scheduling; "Radio Rx" is the
rest of the time the radio was on (receiving or idle). The medium's radio.csv counts modelled
airtime only: a node's tx rows (its frames' airtime) and rx rows (frames it received). So
Energest TX >= medium TX by the exchange's waits, and Energest's radio-on (Tx + Rx) against the
medium's span in the same window shows the driver's radio-off time.

Which time. The console has no timestamps, and a period summary counts from the previous
one (the first from boot): the complete periods cover [boot, boot + window] on the node.
The last, partial period (from the last summary to the tear-down) is never printed, so it
is NOT counted, nor extrapolated; the medium's times are cut to the same window. The boot,
in the medium's time, is bounded by what the console does carry: the node's JSON events
(`"t"`: host Unix time) between the summaries (an event printed before summary k happened
before boot + end_k, one after it after), the node's first row in radio.csv (it cannot be on
the air before it booted), the medium's span (the node printed its last summary while the
medium ran), and its last event (it lived on less than one period after the last summary).
The window is placed at the middle of those bounds; `boot_s` gives them, and the medium's
TX over the bounds' ends shows how much the placement matters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from testbed.energy.energest import NATIVE_TICKS_PER_SECOND, EnergestReport, parse_energest
from testbed.energy.radio_model import RadioTimes, radio_times
from testbed.radio.activity import RadioActivity

#: ENERGEST_CONF_SECOND of nodes/contiki/platform/medium/contiki-conf.h: microseconds of the
#: host's CLOCK_MONOTONIC
MEDIUM_TICKS_PER_SECOND = NATIVE_TICKS_PER_SECOND  # the medium platform is Linux-hosted

WHAT = ("Energest: the node's radio driver's own count, in wall time of the host: TX is the "
        "time it waited on the medium's modelled exchange (CCA, airtime, ACK), RX the rest of "
        "the time the radio was on. Medium: modelled airtime of the frames the node sent (TX) "
        "and received (RX) from radio.csv; radio on = the window. Both over the node's "
        "complete Energest periods (the partial last one is not printed, so not counted).")


@dataclass(frozen=True, slots=True)
class Anchor:
    """A console line with a host time: one of the node's JSON events."""

    line: int
    t_unix: float


def console_anchors(text: str) -> list[Anchor]:
    """The node's JSON event lines ({"...": ..., "t": <unix s>}) with their line numbers."""
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            t = json.loads(line).get("t")
        except (ValueError, AttributeError):
            continue
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            anchors.append(Anchor(number, float(t)))
    return anchors


def boot_bounds(report: EnergestReport, anchors: Sequence[Anchor], *, t0_unix: float,
                span_s: float, first_activity_s: float | None) -> tuple[float, float]:
    """(earliest, latest) boot of the node in the medium's time (module docstring)."""
    ends, end = [], 0.0
    for p in report.periods:
        end += p.total_s
        ends.append((p.line, end))
    window = end
    lo, hi = 0.0, span_s - window
    if first_activity_s is not None:
        hi = min(hi, first_activity_s)
    for a in anchors:
        t = a.t_unix - t0_unix
        for line, end_k in ends:
            if a.line < line:
                lo = max(lo, t - end_k)
            else:
                hi = min(hi, t - end_k)
    if anchors and report.periods:
        longest = max(p.total_s for p in report.periods)
        lo = max(lo, anchors[-1].t_unix - t0_unix - window - longest)
    return lo, hi


def _shifted(rows: Sequence[RadioActivity], offset: float) -> list[RadioActivity]:
    return [replace(r, start_s=r.start_s - offset) for r in rows]


def medium_in_window(rows: Sequence[RadioActivity], node: str, start_s: float,
                     length_s: float) -> RadioTimes:
    """The medium's always-on radio times of `node` over [start_s, start_s + length_s]."""
    return radio_times(_shifted(rows, start_s), length_s, nodes=(node,))[node]


def _pct(a: float, b: float) -> float | None:
    return None if b == 0 else round(100 * (a - b) / b, 2)


def _r(x: float) -> float:
    return round(x, 6)


def node_comparison(text: str, rows: Sequence[RadioActivity], node: str, *, t0_unix: float,
                    span_s: float) -> dict[str, Any]:
    """One node's entry of `energy.energest.nodes` (see `compare_energest`)."""
    report = parse_energest(text, ticks_per_second=MEDIUM_TICKS_PER_SECOND)
    if not report.periods:
        return {"periods": 0, "error": "no complete Energest period on the console "
                                        "(the node ran less than one period?)"}
    totals = report.totals()
    window = totals["total_s"]
    own = [r for r in rows if r.node == node]
    first = min((r.start_s for r in own), default=None)
    lo, hi = boot_bounds(report, console_anchors(text), t0_unix=t0_unix, span_s=span_s,
                         first_activity_s=first)
    aligned = lo <= hi
    boot = (lo + hi) / 2 if aligned else max(0.0, span_s - window)
    medium = medium_in_window(own, node, boot, window)
    edges = ([medium_in_window(own, node, b, window).tx_s for b in (lo, hi)] if aligned
             else [medium.tx_s])
    energest = {"tx_s": totals["tx_s"], "rx_s": totals["rx_s"], "cpu_s": totals["cpu_s"],
                "lpm_s": totals["lpm_s"] + totals["deep_lpm_s"],
                "radio_on_s": totals["tx_s"] + totals["rx_s"]}
    medium_figures = {"tx_s": medium.tx_s, "rx_s": medium.rx_s, "listen_s": medium.listen_s,
                      "radio_on_s": medium.on_s, "frames_sent": medium.frames_sent}
    return {
        "periods": len(report.periods),
        "skipped_lines": len(report.skipped),
        "window_s": _r(window),
        "boot_s": {"estimate": _r(boot), "earliest": _r(lo), "latest": _r(hi),
                   "aligned": aligned},
        "energest": {k: _r(v) for k, v in energest.items()},
        "medium": {k: (_r(v) if isinstance(v, float) else v) for k, v in medium_figures.items()},
        "medium_tx_s_range": [_r(min(edges)), _r(max(edges))],
        "difference": {
            "tx_s": _r(energest["tx_s"] - medium.tx_s),
            "tx_pct": _pct(energest["tx_s"], medium.tx_s),
            "radio_on_s": _r(energest["radio_on_s"] - medium.on_s),
            "radio_on_pct": _pct(energest["radio_on_s"], medium.on_s),
        },
    }


def compare_energest(directory: Path, rows: Sequence[RadioActivity], *, t0_unix: float,
                     span_s: float) -> dict[str, Any] | None:
    """results.json `energy.energest` of a variant whose nodes ran Contiki (logs/<n>.console
    with Energest summaries), or None for a run without consoles (Linux nodes)."""
    consoles = sorted((Path(directory) / "logs").glob("*.console"))
    nodes: dict[str, Any] = {}
    for path in consoles:
        text = path.read_text(errors="replace")
        if "Period summary" not in text:
            continue
        nodes[path.stem] = node_comparison(text, rows, path.stem, t0_unix=t0_unix,
                                           span_s=span_s)
    if not nodes:
        return None
    return {"ticks_per_second": MEDIUM_TICKS_PER_SECOND, "what": WHAT, "nodes": nodes}

