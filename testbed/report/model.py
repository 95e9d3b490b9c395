"""The verdict figures of one variant, drawn from results.json: what every report shows.

One place computes them so that the terminal table, report.html, summary.md and a comparison
of two runs can never disagree on what "bytes per reading" means; the lines of text every
report shows alike (title, caption, run line, test counts, memory lines) are here for the same
reason. What it is not: a measurement (testbed.analysis, testbed.energy and testbed.memory
measure; this only picks and divides), nor a page's markup (terminal.py, html.py and
markdown.py lay the figures out).

The figures, in the words of the columns:

- delivered/sent: readings the sink got (first copies) / readings the nodes sent;
- frames, PSDU bytes: every captured frame (data and ACK) and the sum of their PSDUs (MAC
  header to FCS, tshark's frame.len) over the whole run;
- all-in B/reading: bytes on the air incl. the PHY's SHR+PHR (air.total_bytes) / delivered
  reading: set-up, ACKs and retries included;
- steady B/reading and frames/reading: the analysis' per-reading mean (air.per_reading),
  bytes on the air incl. the PHY's SHR+PHR, without set-up and overhead;
- set-up B: the session set-up (TCP handshake, XMPP stream, SASL, bind; CoAP registration);
- mJ/reading: the sensors' radio energy per delivered reading at the reading rate
  (energy.per_reading_mj.sensors); life d: the shortest sensor lifetime (energy.lifetime_days);
- bytecode B and heap: the MicroPython app the variant runs (results.memory[app]);
- reconnects: times the sensors started over (readings.reconnects: XMPP reconnects, CoAP
  observe re-registrations), from the nodes' event logs.

Every byte figure per reading counts the PHY (like air.by_layer and the plots), so steady <=
all-in always holds; only the PSDU column is without it. `results.VariantResult.
bytes_per_reading` (PSDU only) is not used here. The keys of `headline_figures` (what the
pytest plugin records) and `DELTA_FIGURES` (what `testbed report A B` compares) say which
figure they are: steady_bytes_per_reading, all_in_bytes_per_reading, energy_mj_per_reading.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from testbed.analysis.layers import SHR_PHR_BYTES
from testbed.experiment.results import Air, Results, VariantResult
from testbed.experiment.variants import Variant
from testbed.report.rundir import RunFiles

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
    all_in_bytes_per_reading: float | None
    steady_bytes_per_reading: float | None
    frames_per_reading: float | None
    setup_bytes: int | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    setup_ms_p50: float | None
    energy_mj_per_reading: float | None
    lifetime_days: float | None
    bytecode_bytes: int | None
    heap: HeapFigures
    reconnects: int = 0

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


def bytes_on_air(air: Air) -> int:
    """Every captured frame's bytes incl. the PHY's SHR+PHR: air.total_bytes, or, in a run
    from before testbed.analysis filled it, the PSDU bytes plus SHR+PHR of every frame (what
    total_bytes is by definition)."""
    return air.total_bytes or air.bytes + SHR_PHR_BYTES * air.frames


def figures_of(name: str, v: VariantResult, memory: Mapping[str, Any]) -> VariantFigures:
    r, air = v.readings, v.air
    steady = air.per_reading.get("readings")
    per = (v.energy.get("per_reading_mj") or {}).get("sensors")
    lives = [d for d in (v.energy.get("lifetime_days") or {}).values() if d is not None]
    app = app_of(name)
    m = memory.get(app) if app else None
    m = m if isinstance(m, Mapping) else {}
    return VariantFigures(
        name=name, protocol=protocol_of(name), app=app,
        delivered=r.delivered, sent=r.sent, duplicates=r.duplicates, timed_out=v.timed_out,
        error=v.error, frames=air.frames, psdu_bytes=air.bytes,
        all_in_bytes_per_reading=bytes_on_air(air) / r.delivered if r.delivered else None,
        steady_bytes_per_reading=air.per_reading.get("bytes") if steady else None,
        frames_per_reading=air.per_reading.get("frames") if steady else None,
        setup_bytes=air.setup.get("bytes"),
        latency_p50_ms=r.latency_ms.p50, latency_p95_ms=r.latency_ms.p95,
        setup_ms_p50=v.phases.setup_ms.p50,
        energy_mj_per_reading=per, lifetime_days=min(lives) if lives else None,
        bytecode_bytes=m.get("bytecode_bytes"), heap=heap_figures(m.get("heap")),
        reconnects=r.reconnects,
    )


def variant_figures(results: Results) -> list[VariantFigures]:
    """Every variant's row, in results.json's order (the order the run ran them)."""
    return [figures_of(n, v, results.memory) for n, v in results.variants.items()]


#: headline figure -> its unit (what the pytest plugin attaches to a variant's tests)
HEADLINE_UNITS: dict[str, str] = {
    "delivered": "readings", "sent": "readings", "steady_bytes_per_reading": "B",
    "all_in_bytes_per_reading": "B", "frames_per_reading": "frames", "setup_bytes": "B",
    "latency_p50_ms": "ms", "latency_p95_ms": "ms", "energy_mj_per_reading": "mJ",
    "lifetime_days": "days", "reconnects": "reconnects",
}


def headline_figures(result: VariantResult, memory: dict[str, Any] | None = None
                     ) -> dict[str, float | int | None]:
    """A variant's headline figures, keyed as HEADLINE_UNITS, with the report's meaning (the
    module docstring); None where the run did not measure one. `memory` (results.json's
    memory section) is accepted for the callers that hold it; no headline figure needs it."""
    f = figures_of("", result, memory or {})
    return {
        "delivered": f.delivered, "sent": f.sent,
        "steady_bytes_per_reading": f.steady_bytes_per_reading,
        "all_in_bytes_per_reading": f.all_in_bytes_per_reading,
        "frames_per_reading": f.frames_per_reading, "setup_bytes": f.setup_bytes,
        "latency_p50_ms": f.latency_p50_ms, "latency_p95_ms": f.latency_p95_ms,
        "energy_mj_per_reading": f.energy_mj_per_reading, "lifetime_days": f.lifetime_days,
        "reconnects": f.reconnects,
    }


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
    caption = ("PSDU bytes: MAC header to FCS of every frame (tshark's frame.len); all-in, "
               "steady and set-up B: bytes on the air incl. PHY SHR+PHR, all-in = every "
               "frame of the run (set-up, ACKs, retries) / delivered reading, steady = one "
               "reading without set-up (analysis); frames/rdg: frames per reading in steady "
               "state")
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


def run_line(run: RunFiles) -> str:
    """One line of plain text: readings, rate, seed, variants, when, which topology file."""
    r, m = run.results, run.manifest
    line = (f"{r.readings} readings per sensor every {r.interval_s:g} s, seed {r.seed}, "
            f"{len(r.variants)} variants")
    if m and m.started:
        line += f", {when(m.started, m.ended)}"
    if m and m.topology and m.topology.sha256:
        line += f", topology sha256 {m.topology.sha256[:12]}…"
    if r.interrupted:
        line += f"; interrupted during {r.interrupted}"
    return line


def when(started: str, ended: str | None) -> str:
    """'2026-11-26 07:50:52 UTC, took 42 s' from run.json's ISO times (as written if unparsable)."""
    try:
        start = dt.datetime.fromisoformat(started)
    except ValueError:
        return f"started {started}"
    text = start.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if start.tzinfo else (
        start.strftime("%Y-%m-%d %H:%M:%S"))
    try:
        seconds = (dt.datetime.fromisoformat(ended) - start).total_seconds() if ended else None
    except (ValueError, TypeError):
        seconds = None
    if seconds is not None and seconds >= 0:
        text += f", took {seconds:.0f} s" if seconds < 120 else f", took {seconds / 60:.1f} min"
    return text


def outcome_counts(run: RunFiles) -> str:
    """'1 failed, 2 passed': the pytest outcomes of tests.json, by name."""
    counts = Counter(t.outcome for t in run.tests or ())
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


_HEAP_STEPS = ("before", "after_import", "after_encode", "peak")


def _size(value: object) -> str:
    """A byte count as the table shows it (9,936); anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "-" if value is None else str(value)


def memory_lines(memory: Mapping[str, Any]) -> list[str]:
    """One line per app: bytecode and source, the heap on a real MicroPython, the ELF's ROM
    and RAM; numbers with thousands separators, like the verdict table's."""
    lines = []
    for app, m in memory.items():
        if not isinstance(m, Mapping):
            continue
        heap = m.get("heap") if isinstance(m.get("heap"), Mapping) else {}
        if heap.get("fits") is None:
            where = str(heap.get("error") or "heap not measured")
        else:
            steps = ", ".join(f"{k} {_size(heap[k])}" for k in _HEAP_STEPS
                              if heap.get(k) is not None)
            where = (f"heap on {heap.get('platform')} of {_size(heap.get('heap_total'))} B: "
                     f"{steps}; " + ("fits" if heap["fits"]
                                     else f"does NOT fit: {heap.get('error')}"))
        if m.get("bytecode_bytes") is None and m.get("bytecode_error"):
            code = f"bytecode not measured ({m['bytecode_error']})"
        else:
            code = (f"bytecode {_size(m.get('bytecode_bytes'))} B (source "
                    f"{_size(m.get('source_bytes'))} B)")
        elf = m.get("elf")
        rom = (f"; ELF ROM {_size(elf.get('rom'))} B RAM {_size(elf.get('ram'))} B"
               if isinstance(elf, Mapping) else "")
        lines.append(f"memory {app}: {code}; {where}{rom}")
    return lines


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
    DeltaFigure("steady_bytes_per_reading", "bytes/reading (steady, incl. PHY)", "B",
                lambda f: f.steady_bytes_per_reading),
    DeltaFigure("all_in_bytes_per_reading", "bytes/reading (all-in, incl. PHY)", "B",
                lambda f: f.all_in_bytes_per_reading),
    DeltaFigure("frames_per_reading", "frames/reading (steady)", "frames",
                lambda f: f.frames_per_reading),
    DeltaFigure("setup_bytes", "set-up bytes", "B", lambda f: f.setup_bytes),
    DeltaFigure("energy_mj_per_reading", "energy per reading", "mJ",
                lambda f: f.energy_mj_per_reading),
    DeltaFigure("lifetime_days", "lifetime", "days", lambda f: f.lifetime_days,
                lower_is_better=False),
    DeltaFigure("latency_p50_ms", "latency p50", "ms", lambda f: f.latency_p50_ms),
    DeltaFigure("latency_p95_ms", "latency p95", "ms", lambda f: f.latency_p95_ms),
)
