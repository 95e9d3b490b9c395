"""Contiki-NG simple-energest "Period summary" blocks from a node console, as state times.

What it is: `parse_energest(text)` -> `EnergestReport(periods, skipped)`. The format is what
os/services/simple-energest/simple-energest.c prints with LOG_INFO (log prefix such as
``[INFO: Energest  ]`` optional, anything before it ignored):

    --- Period summary #3 (60 seconds)
    Total time  :    7864320
    CPU         :      12345/   7864320 (1 permil)
    LPM         :    7851975/   7864320 (998 permil)
    Deep LPM    :          0/   7864320 (0 permil)
    Radio Tx    :       1024/   7864320 (0 permil)
    Radio Rx    :      70000/   7864320 (8 permil)
    Radio total :      71024/   7864320 (9 permil)

Values are ticks of ENERGEST_SECOND (= RTIMER_SECOND on the platform: 32768 on Sky, CC2538
and nRF52840's Contiki-NG ports; pass `ticks_per_second`). "Radio Rx" is
ENERGEST_TYPE_LISTEN: receiver on, receiving or idle (the model's rx + listen).

What it is not: a console reader (give it text). Every complete block is kept; a block missing
a field, a truncated or garbled Energest line, or a field outside a block goes to `skipped`
with its 1-based line number and why; lines that are not Energest lines are counted only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from testbed.errors import BadInput

DEFAULT_TICKS_PER_SECOND = 32768
FIELDS = ("CPU", "LPM", "Deep LPM", "Radio Tx", "Radio Rx")
OPTIONAL = ("Radio total",)

# The counters are 64-bit (at most 20 digits): a longer number is a garbled line, and int()
# of one could fail (> 4300 digits) or overflow the float division into seconds.
_HEADER = re.compile(r"--- Period summary #(\d{1,20}) \((\d{1,20}) seconds\)\s*$")
_TOTAL = re.compile(r"Total time\s*:\s*(\d{1,20})\s*$")
_FIELD = re.compile(r"(CPU|LPM|Deep LPM|Radio Tx|Radio Rx|Radio total)\s*:\s*(\d{1,20})/"
                    r"\s*(\d{1,20}) \((\d{1,20}) permil\)\s*$")
_LOOKS_LIKE = re.compile(r"Period summary|Total time|(?:CPU|LPM|Radio Tx|Radio Rx|Radio total)"
                         r"\s*:")


@dataclass(frozen=True, slots=True)
class Skipped:
    line: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class EnergestPeriod:
    """One period summary, in seconds."""

    number: int
    line: int
    total_s: float
    cpu_s: float
    lpm_s: float
    deep_lpm_s: float
    tx_s: float
    rx_s: float   # Radio Rx = ENERGEST_TYPE_LISTEN: receiving or idle listening


@dataclass(frozen=True, slots=True)
class EnergestReport:
    periods: tuple[EnergestPeriod, ...]
    skipped: tuple[Skipped, ...] = ()
    ignored_lines: int = 0

    def totals(self) -> dict[str, float]:
        keys = ("total_s", "cpu_s", "lpm_s", "deep_lpm_s", "tx_s", "rx_s")
        return {k: sum(getattr(p, k) for p in self.periods) for k in keys}


@dataclass(slots=True)
class _Block:
    number: int
    line: int
    texts: list[tuple[int, str]] = field(default_factory=list)
    total: int | None = None
    fields: dict[str, int] = field(default_factory=dict)


#: a Linux-hosted node's Energest clock (native, medium): microseconds
NATIVE_TICKS_PER_SECOND = 1_000_000
#: the Energest clocks of the platforms the testbed knows: CC2538's RTIMER, and native's
KNOWN_TICKS_PER_SECOND = (DEFAULT_TICKS_PER_SECOND, NATIVE_TICKS_PER_SECOND)


def ticks_per_second_of(text: str) -> int:
    """The Energest clock a console's summaries were counted in: the first summary's "Total
    time" ticks over the whole seconds its header names, taken to the nearest known clock
    (KNOWN_TICKS_PER_SECOND); DEFAULT_TICKS_PER_SECOND when no summary says."""
    seconds: int | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if m := _HEADER.search(line):
            seconds = int(m[2]) or None
        elif seconds and (m := _TOTAL.search(line)):
            rate = int(m[1]) / seconds
            return min(KNOWN_TICKS_PER_SECOND, key=lambda known: abs(known - rate))
    return DEFAULT_TICKS_PER_SECOND


def parse_energest(text: str, *,
                   ticks_per_second: int = DEFAULT_TICKS_PER_SECOND) -> EnergestReport:
    """Every complete period summary in `text`; the rest in `skipped` (module docstring)."""
    if ticks_per_second <= 0:
        raise BadInput(f"ticks_per_second must be positive, got {ticks_per_second}")
    periods: list[EnergestPeriod] = []
    skipped: list[Skipped] = []
    ignored = 0
    block: _Block | None = None

    def close(why: str | None = None) -> None:
        nonlocal block
        if block is None:
            return
        missing = [f for f in FIELDS if f not in block.fields]
        if block.total is None:
            missing.insert(0, "Total time")
        if missing or why:
            reason = why or f"period #{block.number} misses {', '.join(missing)}"
            skipped.extend(Skipped(n, t, reason) for n, t in block.texts)
        else:
            s = ticks_per_second
            f = block.fields
            periods.append(EnergestPeriod(
                number=block.number, line=block.line, total_s=block.total / s,
                cpu_s=f["CPU"] / s, lpm_s=f["LPM"] / s, deep_lpm_s=f["Deep LPM"] / s,
                tx_s=f["Radio Tx"] / s, rx_s=f["Radio Rx"] / s))
        block = None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if m := _HEADER.search(line):
            close()
            block = _Block(int(m[1]), number, [(number, line)])
            continue
        total, fld = _TOTAL.search(line), _FIELD.search(line)
        if total is None and fld is None:
            if _LOOKS_LIKE.search(line):
                skipped.append(Skipped(number, line, "truncated or garbled Energest line"))
            else:
                ignored += 1
            continue
        if block is None:
            skipped.append(Skipped(number, line, "Energest field outside a period summary"))
            continue
        block.texts.append((number, line))
        if total is not None:
            block.total = int(total[1])
            continue
        name, delta, period = fld[1], int(fld[2]), int(fld[3])
        if name in block.fields:
            skipped.append(Skipped(number, line, f"{name} twice in period #{block.number}"))
            continue
        if block.total is not None and period != block.total:
            skipped.append(Skipped(number, line, f"{name}: period {period} != total time "
                                                 f"{block.total}"))
            block.texts.pop()
            continue
        block.fields[name] = delta
        if name == OPTIONAL[0]:  # the last line simple-energest prints for a period
            close()
    close()
    return EnergestReport(tuple(periods), tuple(sorted(skipped, key=lambda s: s.line)), ignored)
