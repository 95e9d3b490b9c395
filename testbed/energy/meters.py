"""Power meters: sample streams of current (and voltage) integrated to joules.

What it is: parsers that turn a meter's output into `Sample(t_s, current_a, voltage_v)`
records, and `integrate(samples)` (trapezoid over the actual timestamps, gaps reported).
Every parser keeps every good sample and lists the lines it skipped (1-based line number and
why): noise, missing fields, truncated lines, time going back. What it is not: I/O with a
meter (testbed/backends/meter.py reads them during a lab run and writes serial-line files).

Formats
    serial line stream (`parse_serial_lines`): the format of our INA219/INA226-style meter
        firmware, one sample a line, fields separated by spaces, tabs or commas:
            <t_s> <current_mA> <bus_V>        e.g. ``12.0345 18.80 3.001``
        ``#`` starts a comment; a header line (``t_s,current_mA,bus_V``) is skipped silently.
    FIT IoT-LAB consumption .oml (`parse_oml`): OML text protocol; header lines up to and
        including ``content: text`` and the empty line after it, then tab-separated rows of
        8 columns: oml timestamp, schema id, sequence, timestamp_s, timestamp_us,
        power (W), voltage (V), current (A) (IoT-LAB "consumption monitoring" docs; sample
        period in {140, 204, 332, 588, 1100, 2116, 4156, 8244} µs x averaging 1..1024).
    Nordic PPK2: µA samples at 100 ksps (10 µs period); during a lab run backends/meter.py
        reads them with ppk2-api and writes a serial-lines file; `parse_ppk2_csv` reads the
        Power Profiler app's CSV export (``Timestamp(ms),Current(uA)[,D0-D7]``).
`testbed meter FILE` integrates any of these outside a run (an IoT-LAB node's .oml, say).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from testbed.energy.energest import Skipped
from testbed.errors import BadInput

DEFAULT_GAP_PERIODS = 3   # a step longer than this many periods is a gap


@dataclass(frozen=True, slots=True)
class Sample:
    t_s: float
    current_a: float
    voltage_v: float
    measured_power_w: float | None = None  # a meter that reports power itself (IoT-LAB)

    @property
    def power_w(self) -> float:
        if self.measured_power_w is not None:
            return self.measured_power_w
        return self.current_a * self.voltage_v


@dataclass(frozen=True, slots=True)
class Trace:
    samples: tuple[Sample, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True, slots=True)
class Gap:
    start_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Integral:
    energy_j: float
    charge_c: float
    duration_s: float
    samples: int
    period_s: float | None
    gaps: tuple[Gap, ...] = ()

    @property
    def mean_current_a(self) -> float:
        return self.charge_c / self.duration_s if self.duration_s else 0.0


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _keep(samples: list[Sample], skipped: list[Skipped], number: int, line: str,
          sample: Sample) -> None:
    if not _finite(sample.t_s, sample.current_a, sample.voltage_v):
        skipped.append(Skipped(number, line, "not a finite number"))
    elif samples and sample.t_s <= samples[-1].t_s:
        skipped.append(Skipped(number, line, f"time {sample.t_s} not after {samples[-1].t_s}"))
    else:
        samples.append(sample)


def _floats(fields: Sequence[str]) -> list[float] | None:
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def parse_serial_lines(text: str) -> Trace:
    """`<t_s> <current_mA> <bus_V>` lines (module docstring)."""
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        first, header_seen = not header_seen, True
        fields = line.replace(",", " ").split()
        values = _floats(fields)
        if values is None:
            if first and [f.lower() for f in fields] == ["t_s", "current_ma", "bus_v"]:
                continue  # the header line, exactly (anything else is reported)
            skipped.append(Skipped(number, raw, "not numbers"))
        elif len(values) != 3:
            skipped.append(Skipped(number, raw, f"{len(values)} fields, expected 3 "
                                                "(t_s current_mA bus_V)"))
        else:
            _keep(samples, skipped, number, raw, Sample(values[0], values[1] / 1000, values[2]))
    return Trace(tuple(samples), tuple(skipped))


def parse_oml(text: str) -> Trace:
    """FIT IoT-LAB consumption .oml (module docstring); power column used as measured."""
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    lines = text.splitlines()
    body = 0
    for i, line in enumerate(lines):
        if line.strip() == "content: text":
            body = i + 1
            break
    else:
        if lines and ":" in lines[0] and not _floats(lines[0].split()):
            raise BadInput("not an OML file: no 'content: text' line ends the header")
    for number, raw in enumerate(lines[body:], start=body + 1):
        if not raw.strip():
            continue
        fields = raw.split()
        values = _floats(fields)
        if values is None:
            skipped.append(Skipped(number, raw, "not numbers"))
        elif len(values) != 8:
            skipped.append(Skipped(number, raw, f"{len(values)} columns, expected 8"))
        else:
            t = values[3] + values[4] / 1e6
            power, voltage, current = values[5], values[6], values[7]
            if voltage > 0 and _finite(power) and not math.isclose(
                    power, voltage * current, rel_tol=0.05, abs_tol=1e-4):
                skipped.append(Skipped(number, raw, "power != voltage x current"))
                continue
            if power == voltage == current == 0:
                skipped.append(Skipped(number, raw, "power, voltage and current all 0 (a "
                                                    "profile measuring none of them)"))
                continue
            # an IoT-LAB profile may measure power alone (voltage and current 0): keep it
            _keep(samples, skipped, number, raw,
                  Sample(t, current, voltage, power if _finite(power) and power > 0 else None))
    return Trace(tuple(samples), tuple(skipped))


def parse_ppk2_csv(text: str, *, voltage_v: float) -> Trace:
    """nRF Power Profiler CSV export: `Timestamp(ms),Current(uA)[,digital]` rows."""
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.lower().startswith("timestamp"):
            continue
        fields = line.split(",")
        values = _floats(fields[:2])
        if len(fields) < 2:
            skipped.append(Skipped(number, raw, "missing the current field"))
        elif values is None:
            skipped.append(Skipped(number, raw, "not numbers"))
        else:
            _keep(samples, skipped, number, raw,
                  Sample(values[0] / 1000, values[1] / 1e6, voltage_v))
    return Trace(tuple(samples), tuple(skipped))


def integrate(samples: Sequence[Sample], *, period_s: float | None = None,
              gap_periods: float = DEFAULT_GAP_PERIODS) -> Integral:
    """Trapezoid over the actual timestamps; a step > gap_periods x period is a `Gap`
    (still integrated, linearly). `period_s` default: the median step."""
    if len(samples) < 2:
        return Integral(0.0, 0.0, 0.0, len(samples), period_s)
    steps = [b.t_s - a.t_s for a, b in zip(samples, samples[1:])]
    period = period_s or statistics.median(steps)
    energy = charge = 0.0
    gaps = []
    for (a, b), dt in zip(zip(samples, samples[1:]), steps):
        energy += (a.power_w + b.power_w) / 2 * dt
        charge += (a.current_a + b.current_a) / 2 * dt
        if dt > gap_periods * period:
            gaps.append(Gap(a.t_s, dt))
    return Integral(energy, charge, samples[-1].t_s - samples[0].t_s, len(samples), period,
                    tuple(gaps))
