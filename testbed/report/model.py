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
- mJ/reading: the sensors' own radio time (TX, RX, ContikiMAC wake-ups) per delivered reading
  at the profile's currents (energy.per_reading_mj.protocol), the idle floor every variant pays
  alike apart (energy.idle_floor_mj, said once in the caption); life d: the shortest sensor
  lifetime (energy.lifetime_days), floor included;
- bytecode B and heap: the MicroPython app the variant runs (results.memory[app]);
- reconnects: times the sensors started over (readings.reconnects: XMPP reconnects, CoAP
  observe re-registrations), from the nodes' event logs.

Every byte figure per reading counts the PHY (like air.by_layer and the plots), so steady <=
all-in always holds; only the PSDU column is without it. The keys of `headline_figures` (what the
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

from testbed.energy.report import contikimac_figures, duty_cycled_mj
from testbed.experiment.results import Results, VariantResult
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
    #: the reading's own message on its first hop (analysis: per_reading.message_*): median
    #: bytes on air, frames, and how many of the readings went out in one 802.15.4 frame
    #: the sensors' radio energy per reading under the duty-cycled model (ContikiMAC at the
    #: run's wake-up interval; energy.other_modes or the chosen mode): what the protocol's own
    #: radio time costs once listening is no longer nearly all of it
    energy_duty_mj_per_reading: float | None = None
    message_bytes: int | None = None
    message_frames: int | None = None
    message_one_frame: int | None = None
    messages: int = 0
    mismatched: int = 0  # delivered, but not the value the node made (experiment/truth.py)
    #: how the per-reading split was made: "seq" (each reading's bytes found by its sequence
    #: number) or "time" (TLS hides it: bytes between one reading and the next, an inference)
    per_reading_method: str | None = None
    #: bytes per reading of identifiers the implementations chose (analysis:
    #: per_reading.identifier_bytes): CoAP tokens, XMPP id attributes, on every hop
    identifier_bytes: float | None = None

    @property
    def inferred_split(self) -> bool:
        return self.per_reading_method == "time"

    @property
    def one_frame_cell(self) -> str:
        """'yes' when every reading's message was one frame, 'no' when none was, else 'k/n'."""
        if not self.messages or self.message_one_frame is None:
            return "-"
        if self.message_one_frame == self.messages:
            return "yes"
        return "no" if self.message_one_frame == 0 else f"{self.message_one_frame}/{self.messages}"

    @property
    def delivered_cell(self) -> str:
        cell = f"{self.delivered}/{self.sent}"
        if self.duplicates:
            cell += f" (+{self.duplicates} dup)"
        if self.mismatched:
            cell += f" ({self.mismatched} wrong)"
        return cell + (" timeout" if self.timed_out else "")

    @property
    def status(self) -> str:
        """ok / lossy / failed: how a row is coloured."""
        if self.error:
            return "failed"
        return ("lossy" if self.delivered < self.sent or self.timed_out or self.mismatched
                else "ok")


def figures_of(name: str, v: VariantResult, memory: Mapping[str, Any]) -> VariantFigures:
    r, air = v.readings, v.air
    steady = air.per_reading.get("readings")
    # a run from before the protocol's own figure existed shows none (`testbed compare
    # --profile` on it recomputes), rather than the floor-dominated total under its name
    per = (v.energy.get("per_reading_mj") or {}).get("protocol")
    lives = [d for d in (v.energy.get("lifetime_days") or {}).values() if d is not None]
    app = app_of(name)
    m = memory.get(app) if app else None
    m = m if isinstance(m, Mapping) else {}
    return VariantFigures(
        name=name, protocol=protocol_of(name), app=app,
        delivered=r.delivered, sent=r.sent, duplicates=r.duplicates, timed_out=v.timed_out,
        error=v.error, frames=air.frames, psdu_bytes=air.bytes,
        all_in_bytes_per_reading=air.on_air_bytes / r.delivered if r.delivered else None,
        steady_bytes_per_reading=air.per_reading.get("bytes") if steady else None,
        frames_per_reading=air.per_reading.get("frames") if steady else None,
        setup_bytes=air.setup.get("bytes"),
        latency_p50_ms=r.latency_ms.p50, latency_p95_ms=r.latency_ms.p95,
        setup_ms_p50=v.phases.setup_ms.p50,
        energy_mj_per_reading=per, lifetime_days=min(lives) if lives else None,
        bytecode_bytes=m.get("bytecode_bytes"), heap=heap_figures(m.get("heap")),
        reconnects=r.reconnects,
        energy_duty_mj_per_reading=duty_cycled_mj(v.energy),
        message_bytes=air.per_reading.get("message_bytes"),
        message_frames=air.per_reading.get("message_frames"),
        message_one_frame=air.per_reading.get("message_one_frame"),
        messages=int(air.per_reading.get("messages") or 0),
        mismatched=r.mismatched,
        per_reading_method=air.per_reading.get("method") if steady else None,
        # TLS hides the stanzas' ids: no figure rather than 0
        identifier_bytes=(air.per_reading.get("identifier_bytes")
                          if steady and air.per_reading.get("method") != "time" else None),
    )


def variant_figures(results: Results) -> list[VariantFigures]:
    """Every variant's row, in results.json's order (the order the run ran them)."""
    return [figures_of(n, v, results.memory) for n, v in results.variants.items()]


#: headline figure -> its unit (what the pytest plugin attaches to a variant's tests)
HEADLINE_UNITS: dict[str, str] = {
    "delivered": "readings", "sent": "readings", "steady_bytes_per_reading": "B",
    "all_in_bytes_per_reading": "B", "frames_per_reading": "frames", "setup_bytes": "B",
    "latency_p50_ms": "ms", "latency_p95_ms": "ms", "energy_mj_per_reading": "mJ",
    "energy_duty_mj_per_reading": "mJ",
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
        "energy_mj_per_reading": f.energy_mj_per_reading,
        "energy_duty_mj_per_reading": f.energy_duty_mj_per_reading,
        "lifetime_days": f.lifetime_days,
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
            f"{results.interval_s} s, payload {results.payload}, seed {results.seed}, "
            f"run {results.run_id}")


def table_caption(results: Results) -> str:
    """What the verdict table's columns mean (the terminal's caption and the HTML's)."""
    caption = ("msg B, 1 frame: one reading's own message (the CoAP response or notification, "
               "the XMPP stanza's segment) on its first hop, median bytes on the air incl. "
               "SHR+PHR, and whether it went out in a single 127-byte frame (yes, no, or how "
               "many of the readings did); "
               "PSDU bytes: MAC header to FCS of every frame (tshark's frame.len); all-in, "
               "steady and set-up B: bytes on the air incl. PHY SHR+PHR, all-in = every "
               "frame of the run (set-up, ACKs, retries) / delivered reading, steady = one "
               "reading without set-up (analysis); frames/rdg: frames per reading in steady "
               "state")
    if any(f.inferred_split for f in variant_figures(results)):
        caption += ("; ≈: INFERRED, split by time (TLS hides which record carries which "
                    "reading: each reading is charged the bytes up to the next one), not found "
                    "by sequence number")
    energy = energy_settings(results)
    if energy is not None:
        mah = (energy.get("battery") or {}).get("capacity_mah")
        battery = f"{mah:g} mAh" if isinstance(mah, (int, float)) else "the battery"
        source = ("measured by the boards' Energest" if energy.get("source") == "energest" else
                  "a MODEL: the medium's radio log x the profile's currents")
        wakeup = contikimac_figures(energy).get("wakeup_ms")
        floor = energy.get("idle_floor_mj")
        caption += ("; mJ/reading: the sensors' own radio time (TX at TX current, RX at RX "
                    "current) per delivered reading; the idle floor every variant pays alike, "
                    + (f"{floor:.1f} mJ per reading interval, " if isinstance(floor, (int, float))
                       else "")
                    + f"is not in it; life d: shortest sensor lifetime on {battery} "
                    f"({profile_of(energy).get('name', '?')}, {energy_mode(energy)}; radio only)"
                    f", floor included (so on an always-on radio it hardly separates variants)"
                    f"; mJ/rdg DC: the same under ContikiMAC"
                    + (f" with {wakeup:g} ms wake-ups" if isinstance(wakeup, (int, float)) else "")
                    + f" (the listening it saves shows what the protocol's own radio time "
                    f"costs); both {source}")
    ids = [(f.name, f.identifier_bytes) for f in variant_figures(results)
           if f.identifier_bytes is not None]
    if ids:
        caption += ("; what the implementations add: bytes per reading of identifiers whose "
                    "length is the implementation's choice, not the protocol's (CoAP tokens, "
                    "0-8 B, picked by the sink's aiocoap; XMPP id attributes, from the sensor "
                    "apps and from the sink's hex counter where slixmpp's default uuid4().hex "
                    "is 32 characters), on every hop: "
                    + ", ".join(f"{name} {size:.0f} B" for name, size in ids))
    platforms = sorted({str(h.platform) for f in variant_figures(results)
                        if (h := f.heap).platform and h.fits is not None})
    caption += ("; bytecode B: mpy-cross output of the variant's app; heap: "
                + (f"its import and encode on {', '.join(platforms)}" if platforms
                   else "on a real MicroPython (not measured in this run)"))
    heaps = [f.heap for f in variant_figures(results) if f.heap.fits is not None]
    if heaps and not any(h.fits for h in heaps):
        caption += (" (no app fits that heap, so the column cannot tell the variants apart; "
                    "the memory lines give the heap each app needs on MicroPython 1.27)")
    if results.platform == "contiki":
        caption += (" (the MicroPython version of the app: this run's nodes ran the C apps, "
                    "whose ROM and RAM on a board are under the C apps' memory)")
    if results.interrupted:
        caption = f"interrupted during {results.interrupted}; " + caption
    return caption


def run_line(run: RunFiles) -> str:
    """One line of plain text: readings, rate, seed, variants, when, which topology file."""
    r, m = run.results, run.manifest
    line = (f"{r.readings} readings per sensor every {r.interval_s:g} s, payload {r.payload} "
            f"in every variant, seed {r.seed}, {len(r.variants)} variants")
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


#: results.json memory key of the C apps built for a board (testbed/memory/contiki.py); the
#: section's other keys are MicroPython apps
CONTIKI_MEMORY = "contiki"


def app_memory(memory: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The MicroPython apps' entries of the memory section (not the board firmware's)."""
    return {a: m for a, m in memory.items() if a != CONTIKI_MEMORY and isinstance(m, Mapping)}


def memory_lines(memory: Mapping[str, Any]) -> list[str]:
    """One line per app: bytecode and source, the heap on a real MicroPython, the ELF's ROM
    and RAM; then one per C firmware built for a board; numbers with thousands separators,
    like the verdict table's."""
    lines = []
    for app, m in app_memory(memory).items():
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
        lines.append(f"memory {app}: {code}; {where}")
        if (line := heap_127_line(app, m.get("heap_127"))) is not None:
            lines.append(line)
    return lines + [t.line for t in firmware_tables(memory)]


def heap_127_line(app: str, need: object) -> str | None:
    """What the app's codec needs on MicroPython 1.27 (memory/wasm.py), in one line."""
    if not isinstance(need, Mapping):
        return None
    where = f"memory {app} on MicroPython 1.27 ({need.get('platform')})"
    if need.get("smallest_heap") is None:
        return f"{where}: not measured ({need.get('error')})"
    return (f"{where}: import and the first reading run in a heap of "
            f"{_size(need['smallest_heap'])} B (nothing collected in between: an upper bound); "
            f"live {_size(need.get('after_import'))} B after import, "
            f"{_size(need.get('after_encode'))} B after the reading, "
            f"{_size(need.get('steady_live'))} B at most over 50 more")


# --- the C apps built for a board (results.memory.contiki) ---------------------------------

@dataclass(frozen=True, slots=True)
class ModuleRow:
    """One module of a firmware: its ROM and RAM and its share of the image's ROM (%)."""

    module: str
    rom: int
    ram: int
    share: float


@dataclass(frozen=True, slots=True)
class FirmwareTable:
    """A C app's image for a board, by module (largest ROM first; the rest in one row)."""

    app: str
    target: str
    rom: int | None
    ram: int | None
    fits: bool | None
    rom_class: int
    modules: tuple[ModuleRow, ...]
    xmpp_modules: tuple[ModuleRow, ...]
    stack: str
    error: str | None

    @property
    def line(self) -> str:
        if self.error:
            return f"firmware {self.app} ({self.target}): not measured ({self.error})"
        verdict = "fits" if self.fits else "does NOT fit"
        return (f"firmware {self.app} ({self.target}): ROM {_size(self.rom)} B, RAM "
                f"{_size(self.ram)} B; {verdict} a {self.rom_class // 1024} KB-ROM class node")


def _rows(modules: Mapping[str, Any], rom: int, largest: int | None) -> tuple[ModuleRow, ...]:
    items = [(m, f) for m, f in modules.items() if isinstance(f, Mapping)]
    items.sort(key=lambda kv: (-int(kv[1].get("rom", 0)), kv[0]))
    shown = items if largest is None else items[:largest]
    rows = [ModuleRow(m, int(f.get("rom", 0)), int(f.get("ram", 0)),
                      100 * int(f.get("rom", 0)) / rom if rom else 0.0) for m, f in shown]
    rest = items[len(shown):]
    if rest:
        r_rom = sum(int(f.get("rom", 0)) for _, f in rest)
        rows.append(ModuleRow(f"{len(rest)} other modules", r_rom,
                              sum(int(f.get("ram", 0)) for _, f in rest),
                              100 * r_rom / rom if rom else 0.0))
    return tuple(rows)


def _stack_text(stack: Any) -> str:
    peak = stack.get("peak") if isinstance(stack, Mapping) else None
    if not isinstance(peak, Mapping):
        return "peak stack: not measured"
    unseen = []
    if peak.get("through_pointer"):
        unseen.append("calls through pointers")
    if peak.get("recursive"):
        unseen.append("recursion")
    if peak.get("unknown"):
        unseen.append(f"{len(peak['unknown'])} functions without stack figures")
    path = " → ".join(str(f) for f in peak.get("path") or ())
    return (f"deepest direct call chain {_size(peak.get('bytes'))} B from {peak.get('function')}"
            f" ({path}); not seen: " + (", ".join(unseen) if unseen else "none here")
            + "; nor interrupts")


def firmware_tables(memory: Mapping[str, Any], *, largest: int = 8) -> list[FirmwareTable]:
    """One table per C app of results.memory.contiki, in the section's order."""
    section = memory.get(CONTIKI_MEMORY)
    if not isinstance(section, Mapping):
        return []
    target = str(section.get("target", "?"))
    rom_class = int(section.get("rom_class_bytes") or 128 * 1024)
    tables = []
    for app, f in (section.get("firmware") or {}).items():
        if not isinstance(f, Mapping):
            continue
        rom = f.get("rom")
        tables.append(FirmwareTable(
            app=app, target=target, rom=rom, ram=f.get("ram"), fits=f.get("fits_rom_class"),
            rom_class=rom_class,
            modules=_rows(f.get("modules") or {}, rom or 0, largest),
            xmpp_modules=_rows(f.get("xmpp_modules") or {}, rom or 0, None),
            stack=_stack_text(f.get("stack")), error=f.get("error")))
    return tables


def firmware_caption(memory: Mapping[str, Any]) -> str:
    """What built the images and what the figures are."""
    section = memory.get(CONTIKI_MEMORY)
    if not isinstance(section, Mapping):
        return ""
    board = section.get("board") or {}
    size = (f" ({_size(board.get('flash_bytes'))} B flash, {_size(board.get('ram_bytes'))} B "
            "RAM)") if board else ""
    contiki = section.get("contiki") or {}
    pins = ", ".join(f"{w[0]} {w[1][:7]}" for p in contiki.get("pins") or ()
                     if len(w := str(p).split()) >= 2)
    return (f"The node apps in C built for {section.get('target')}{size} with "
            f"{section.get('compiler') or 'an unknown compiler'}, Contiki-NG "
            f"{contiki.get('release') or '?'}" + (f" ({pins})" if pins else "") +
            ". ROM = text + data, RAM = data + bss (arm-none-eabi-size's columns), shared out "
            "by module with the GNU ld map; share = the module's part of the image's ROM. "
            f"The seed's constrained node has {int(section.get('rom_class_bytes') or 0) // 1024}"
            " KB of ROM. Stack: sums of -fstack-usage frames along direct calls.")


# --- Energest beside the medium (variant.energy.energest) -----------------------------------

ENERGEST_WHAT = (
    "Energest is the Contiki node's own count, from its radio driver, in the host's wall time: "
    "its TX is how long the driver waited on the medium's modelled exchange (CCA, turnaround, "
    "airtime, ACK or its timeout, plus the medium's lateness); the medium's TX is the modelled "
    "airtime of the frames the node sent (radio.csv), so Energest TX is the larger by those "
    "waits. Both cover the node's complete Energest periods only: the last, partial period "
    "is never printed before the tear-down, so it is not counted, and the medium's log is cut "
    "to the same window.")


@dataclass(frozen=True, slots=True)
class EnergestRow:
    variant: str
    node: str
    window_s: float | None
    boot: str
    energest_tx_s: float | None
    medium_tx_s: float | None
    tx_diff_s: float | None
    tx_diff_pct: float | None
    energest_on_s: float | None
    medium_on_s: float | None
    on_diff_pct: float | None
    medium_tx_range_s: tuple[float, float] | None
    cpu_s: float | None
    lpm_s: float | None
    error: str | None = None


def energest_rows(results: Results) -> list[EnergestRow]:
    """Every Contiki node of every variant that has Energest figures, in run order."""
    rows = []
    for name, v in results.variants.items():
        nodes = (v.energy.get("energest") or {}).get("nodes") or {}
        for node, e in sorted(nodes.items()):
            if not isinstance(e, Mapping):
                continue
            own, med = e.get("energest") or {}, e.get("medium") or {}
            diff, boot = e.get("difference") or {}, e.get("boot_s") or {}
            half = ((boot.get("latest", 0) - boot.get("earliest", 0)) / 2
                    if boot.get("aligned") else None)
            rows.append(EnergestRow(
                variant=name, node=node, window_s=e.get("window_s"),
                boot=(f"{boot['estimate']:.1f} ± {half:.1f} s" if half is not None
                      and boot.get("estimate") is not None else "not aligned"),
                energest_tx_s=own.get("tx_s"), medium_tx_s=med.get("tx_s"),
                tx_diff_s=diff.get("tx_s"), tx_diff_pct=diff.get("tx_pct"),
                energest_on_s=own.get("radio_on_s"), medium_on_s=med.get("radio_on_s"),
                on_diff_pct=diff.get("radio_on_pct"),
                medium_tx_range_s=tuple(e["medium_tx_s_range"]) if len(
                    e.get("medium_tx_s_range") or ()) == 2 else None,
                cpu_s=own.get("cpu_s"),
                lpm_s=own.get("lpm_s"), error=e.get("error")))
    return rows


# --- what a lab's power meters measured (variant.energy.measured) ----------------------------

MEASURED_WHAT = (
    "Measured by the power meter on each board's supply (lab file `meter:`), from the node's "
    "app start to the variant's tear-down: the whole board (radio, MCU, regulators), not an "
    "estimate from radio times.")


@dataclass(frozen=True, slots=True)
class MeasuredRow:
    variant: str
    node: str
    source: str
    joules: float | None
    mean_ma: float | None
    duration_s: float | None
    samples: int
    gaps: int
    error: str | None = None


def measured_rows(results: Results) -> list[MeasuredRow]:
    """Every metered node of every variant, in run order."""
    rows = []
    for name, v in results.variants.items():
        for node, m in sorted((v.energy.get("measured") or {}).items()):
            if not isinstance(m, Mapping):
                continue
            rows.append(MeasuredRow(
                variant=name, node=node, source=str(m.get("source", "meter")),
                joules=m.get("joules"), mean_ma=m.get("mean_mA"),
                duration_s=m.get("duration_s"), samples=int(m.get("samples", 0)),
                gaps=int(m.get("gaps", 0)), error=m.get("error")))
    return rows


# --- finding the server (variant.discovery, issue 09) -----------------------------------------

DISCOVERY_WHAT = (
    "How each variant's sensors found where to send (mDNS on their link, the border router's "
    "discovery proxy beyond it): what their first search found, how long it took (a "
    "serverless sensor waits 3 s for a server before it settles for the collector), and "
    "every mDNS and unicast DNS frame on the air over the whole variant; these frames count in "
    "the variant's all-in bytes (as overhead), and CoAP variants have none (their sink is "
    "told the nodes' addresses). xmpp-serverless: readings and air before and after prosody "
    "started mid-run.")


@dataclass(frozen=True, slots=True)
class DiscoveryRow:
    variant: str
    found: str  # "server x3", "peer x2, nothing x1"
    found_p50_ms: float | None
    found_max_ms: float | None
    frames: int
    bytes: int
    moves: int
    serverless: Mapping[str, int] | None  # delivered, frames, bytes before the server came
    server: Mapping[str, int] | None  # ... and after


def discovery_rows(results: Results) -> list[DiscoveryRow]:
    """Every variant whose nodes discovered, in run order."""
    rows = []
    for name, v in results.variants.items():
        d = v.discovery
        if not d:
            continue
        found_ms, air, phases = d.get("found_ms") or {}, d.get("air") or {}, d.get("phases")
        rows.append(DiscoveryRow(
            variant=name,
            found=", ".join(f"{k} x{n}" for k, n in sorted((d.get("found") or {}).items())),
            found_p50_ms=found_ms.get("p50"), found_max_ms=found_ms.get("max"),
            frames=int(air.get("frames", 0)), bytes=int(air.get("bytes", 0)),
            moves=int(d.get("moves_to_server", 0)),
            serverless=phases.get("serverless") if phases else None,
            server=phases.get("server") if phases else None))
    return rows


def num(value: float | None) -> str:
    """A figure with thousands separators and no decimals, or - when there is none."""
    return "-" if value is None else f"{value:,.0f}"


def phase_cell(phase: Mapping[str, int] | None) -> str:
    """One phase of xmpp-serverless: readings delivered in it, and its air."""
    if not phase:
        return "-"
    return (f"{phase.get('delivered', 0)} readings, {phase.get('frames', 0):,} frames, "
            f"{phase.get('bytes', 0):,} B")


def ms(value: float | None) -> str:
    """Seconds as milliseconds with one decimal (the radio times are tens of ms)."""
    return "-" if value is None else f"{value * 1000:,.1f}"


def ms_range(span: tuple[float, float] | None) -> str:
    """The medium's TX over the boot bounds' two ends: how much the window's place matters."""
    return "-" if span is None else f"{ms(span[0])}–{ms(span[1])}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


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
