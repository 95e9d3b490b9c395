"""The verdict figures of one variant, drawn from results.json: what every report shows.

One place computes them so that the terminal table, report.html, summary.md and a comparison
of two runs can never disagree on what "bytes per reading" means. What it is not: a
measurement (testbed.analysis, testbed.energy and testbed.memory measure; this only picks and
divides), nor a formatter (terminal.py, html.py and markdown.py format).

The figures, in the words of the columns:

- delivered/sent: readings the sink got (first copies) / readings the nodes sent;
- frames, PSDU bytes: every captured frame (data and ACK) and the sum of their PSDUs (MAC
  header to FCS, tshark's frame.len) over the whole run;
- all-in B/reading: PSDU bytes / delivered reading (set-up, ACKs and retries included);
- steady B/reading and frames/reading: the analysis' per-reading mean (air.per_reading),
  bytes on the air incl. the PHY's SHR+PHR, without set-up and overhead;
- set-up B: the session set-up (TCP handshake, XMPP stream, SASL, bind; CoAP registration);
- mJ/reading: the sensors' radio energy per delivered reading at the reading rate
  (energy.per_reading_mj.sensors); life d: the shortest sensor lifetime (energy.lifetime_days);
- bytecode B and heap: the MicroPython app the variant runs (results.memory[app]).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from testbed.experiment.results import Results, VariantResult
from testbed.experiment.variants import Variant

COAP, XMPP, OTHER = "coap", "xmpp", "other"


def protocol_of(variant: str) -> str:
    """coap / xmpp for a known variant or a name starting so, else other."""
    try:
        return str(Variant(variant).protocol)
    except ValueError:
        head = variant.split("-", 1)[0]
        return head if head in (COAP, XMPP) else OTHER


def app_of(variant: str) -> str | None:
    """The node app (nodes/<app>/) a variant runs: coap-* -> coap-sensor, xmpp-* -> xmpp-sensor."""
    try:
        return Variant(variant).app
    except ValueError:
        protocol = protocol_of(variant)
        return f"{protocol}-sensor" if protocol != OTHER else None


@dataclass(frozen=True, slots=True)
class HeapFigures:
    """An app's heap on a real MicroPython: total, highest use measured, and where it broke."""

    platform: str | None
    total: int | None
    used: int | None  # the highest figure measured (peak, else the last step reached)
    fits: bool | None  # None: not measured
    error: str | None  # why it does not fit, or why it was not measured
    failed_step: str | None = None  # e.g. "compile+import coap"
    failed_alloc: int | None = None  # bytes the MemoryError tried to allocate

    @property
    def verdict(self) -> str:
        """A table cell: fits with its figures, MemoryError, or - when not measured."""
        if self.fits is None:
            return "-"
        if self.fits:
            return f"fits {self.used:,}/{self.total:,} B" if self.used and self.total else "fits"
        return "MemoryError" if self.failed_step else "does not fit"


_MEMORY_ERROR = re.compile(r"^(?P<step>[^:]+):\s*MemoryError\b.*?(?:allocating (?P<n>\d+) bytes)?$")
_USE_STEPS = ("peak", "after_encode", "after_import", "before")


def heap_figures(heap: Mapping[str, Any] | None) -> HeapFigures:
    heap = heap or {}
    used_steps = [heap.get(k) for k in _USE_STEPS if isinstance(heap.get(k), int)]
    per_module = [v for v in (heap.get("after_import_module") or {}).values() if isinstance(v, int)]
    used = max(used_steps + per_module) if used_steps + per_module else None
    error = heap.get("error")
    step = alloc = None
    if error and (match := _MEMORY_ERROR.match(str(error))):
        step, alloc = match["step"].strip(), int(match["n"]) if match["n"] else None
    total = heap.get("heap_total")
    return HeapFigures(platform=heap.get("platform"),
                       total=total if isinstance(total, int) else None, used=used,
                       fits=heap.get("fits"), error=error, failed_step=step, failed_alloc=alloc)


@dataclass(frozen=True, slots=True)
class VariantFigures:
    """One row of the verdict table (the module docstring says what each figure is)."""

    name: str
    protocol: str
    app: str | None
    delivered: int
    sent: int
    duplicates: int
    timed_out: bool
    error: str | None
    frames: int
    psdu_bytes: int
    all_in_psdu_per_reading: float | None
    steady_bytes_per_reading: float | None
    frames_per_reading: float | None
    setup_bytes: int | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    setup_ms_p50: float | None
    mj_per_reading: float | None
    lifetime_days: float | None
    bytecode_bytes: int | None
    heap: HeapFigures

    @property
    def delivered_cell(self) -> str:
        cell = f"{self.delivered}/{self.sent}"
        if self.duplicates:
            cell += f" (+{self.duplicates} dup)"
        return cell + (" timeout" if self.timed_out else "")

    @property
    def status(self) -> str:
        """ok / lossy / failed: how a row is coloured."""
        if self.error:
            return "failed"
        return "lossy" if self.delivered < self.sent or self.timed_out else "ok"


def figures_of(name: str, v: VariantResult, memory: Mapping[str, Any]) -> VariantFigures:
    r, air = v.readings, v.air
    steady = air.per_reading.get("readings")
    per = (v.energy.get("per_reading_mj") or {}).get("sensors")
    lives = [d for d in (v.energy.get("lifetime_days") or {}).values() if d is not None]
    app = app_of(name)
    m = (memory.get(app) or {}) if app else {}
    return VariantFigures(
        name=name, protocol=protocol_of(name), app=app,
        delivered=r.delivered, sent=r.sent, duplicates=r.duplicates, timed_out=v.timed_out,
        error=v.error, frames=air.frames, psdu_bytes=air.bytes,
        all_in_psdu_per_reading=v.bytes_per_reading,
        steady_bytes_per_reading=air.per_reading.get("bytes") if steady else None,
        frames_per_reading=air.per_reading.get("frames") if steady else None,
        setup_bytes=air.setup.get("bytes"),
        latency_p50_ms=r.latency_ms.p50, latency_p95_ms=r.latency_ms.p95,
        setup_ms_p50=v.phases.setup_ms.p50,
        mj_per_reading=per, lifetime_days=min(lives) if lives else None,
        bytecode_bytes=m.get("bytecode_bytes"), heap=heap_figures(m.get("heap")),
    )


def variant_figures(results: Results) -> list[VariantFigures]:
    """Every variant's row, in results.json's order (the order the run ran them)."""
    return [figures_of(n, v, results.memory) for n, v in results.variants.items()]


def energy_settings(results: Results) -> Mapping[str, Any] | None:
    """The first variant's `energy` section that names a mode (profile, battery, mode)."""
    return next((v.energy for v in results.variants.values() if v.energy.get("mode")), None)


def profile_of(energy: Mapping[str, Any]) -> Mapping[str, Any]:
    """The energy section's platform profile (name, title, voltage_v, currents)."""
    return energy.get("profile") or {}


def energy_mode(energy: Mapping[str, Any]) -> str:
    return str(energy["mode"]) + (f" {energy['wakeup_ms']:g} ms" if energy.get("wakeup_ms") else "")


def table_title(results: Results) -> str:
    return (f"compare {results.topology}: {results.readings} readings per sensor every "
            f"{results.interval_s} s, seed {results.seed}, run {results.run_id}")


def table_caption(results: Results) -> str:
    """What the verdict table's columns mean (the terminal's caption and the HTML's)."""
    caption = ("PSDU bytes: MAC header to FCS of every frame (tshark's frame.len); all-in: "
               "PSDU bytes / delivered reading; steady and set-up B: bytes on the air "
               "incl. PHY SHR+PHR (analysis); frames/rdg: frames per reading in steady state")
    energy = energy_settings(results)
    if energy is not None:
        mah = (energy.get("battery") or {}).get("capacity_mah")
        battery = f"{mah:g} mAh" if isinstance(mah, (int, float)) else "the battery"
        caption += (f"; mJ/reading: sensors' radio energy per delivered reading at the reading "
                    f"rate, life d: shortest sensor lifetime on {battery} "
                    f"({profile_of(energy).get('name', '?')}, {energy_mode(energy)}; radio only)")
    platforms = sorted({str(h.platform) for f in variant_figures(results)
                        if (h := f.heap).platform and h.fits is not None})
    caption += ("; bytecode B: mpy-cross output of the variant's app; heap: "
                + (f"its import and encode on {', '.join(platforms)}" if platforms
                   else "on a real MicroPython (not measured in this run)"))
    if results.interrupted:
        caption = f"interrupted during {results.interrupted}; " + caption
    return caption


@dataclass(frozen=True, slots=True)
class DeltaFigure:
    """A figure two runs are compared on: its label, unit, and which way is better."""

    key: str
    label: str
    unit: str
    get: Callable[[VariantFigures], float | None]
    lower_is_better: bool = True


DELTA_FIGURES: tuple[DeltaFigure, ...] = (
    DeltaFigure("delivered", "delivered", "readings", lambda f: f.delivered, lower_is_better=False),
    DeltaFigure("bytes_per_reading", "bytes/reading (steady, incl. PHY)", "B",
           lambda f: f.steady_bytes_per_reading),
    DeltaFigure("frames_per_reading", "frames/reading (steady)", "frames",
           lambda f: f.frames_per_reading),
    DeltaFigure("setup_bytes", "set-up bytes", "B", lambda f: f.setup_bytes),
    DeltaFigure("mj_per_reading", "energy per reading", "mJ", lambda f: f.mj_per_reading),
    DeltaFigure("lifetime_days", "lifetime", "days", lambda f: f.lifetime_days,
                lower_is_better=False),
    DeltaFigure("latency_p50_ms", "latency p50", "ms", lambda f: f.latency_p50_ms),
    DeltaFigure("latency_p95_ms", "latency p95", "ms", lambda f: f.latency_p95_ms),
)
