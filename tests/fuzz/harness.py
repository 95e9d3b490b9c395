"""Feed one fuzz target N generated inputs and tally what happened to each.

What it is: `fuzz(target, examples)` drives the target's hypothesis strategy with `@given`
(generation only: no shrinking, no example database, no deadline) and sorts every input
into a result, an allowed typed error, another exception, a hang (an input still running
after `time_limit_s`, interrupted by SIGALRM) or runaway memory (a tracemalloc peak above
`memory_limit_bytes`, measured on every `memory_every`-th input). It keeps the first finding
as a reproducer. What it is not: a reporter (the suite asserts, the script prints a table).
"""

from __future__ import annotations

import gc
import signal
import time
import tracemalloc
import traceback
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.targets import Target

TIME_LIMIT_S = 2.0
MEMORY_LIMIT_BYTES = 64 * 1024 * 1024


class Hang(BaseException):
    """Raised by the watchdog inside an input that ran past the time limit (a BaseException
    so that no parser's `except Exception` can swallow it)."""


@dataclass
class Finding:
    kind: str  # "exception", "hang" or "memory"
    input_repr: str
    detail: str


@dataclass
class Tally:
    name: str
    tried: int = 0
    results: int = 0
    typed_errors: int = 0
    other: int = 0
    hangs: int = 0
    memory: int = 0
    slowest_s: float = 0.0
    slowest_repr: str = ""
    peak_bytes: int = 0
    elapsed_s: float = 0.0
    first: Finding | None = None
    kinds: dict[str, int] = field(default_factory=dict)  # other exception type -> count

    @property
    def findings(self) -> int:
        return self.other + self.hangs + self.memory


def _on_alarm(_signum: int, _frame: object) -> None:
    raise Hang


def _short(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def fuzz(target: Target, examples: int, *, time_limit_s: float = TIME_LIMIT_S,
         memory_every: int = 50, memory_limit_bytes: int = MEMORY_LIMIT_BYTES) -> Tally:
    """Run `examples` generated inputs through `target.call`; never raises for a finding."""
    tally = Tally(target.name)

    def record(kind: str, value: Any, detail: str) -> None:
        if tally.first is None:
            tally.first = Finding(kind, _short(target.show(value)), detail)

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(target.inputs)
    def run(value: Any) -> None:
        tally.tried += 1
        measure = memory_every and tally.tried % memory_every == 0
        if measure:
            tracemalloc.start()
        outcome = "result"
        # No garbage collection inside the call: a full collection walks hypothesis's own
        # heap (hundreds of MB after 100k inputs) and took seconds, charged to the parser.
        # The alarm repeats: one raised inside a gc callback is swallowed anyway.
        gc.disable()
        signal.setitimer(signal.ITIMER_REAL, time_limit_s, 0.05)
        start = time.perf_counter()
        caught: Exception | None = None
        try:
            try:
                target.call(value)
            except target.allowed:
                outcome = "typed"
            except Exception as exc:  # noqa: BLE001 - any other exception is what we look for
                outcome, caught = "other", exc
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                gc.enable()
        except Hang:  # also one that came while leaving an except clause
            signal.setitimer(signal.ITIMER_REAL, 0)
            gc.enable()
            outcome = "hang"
        if caught is not None:
            kind = type(caught).__name__
            tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
            record("exception", value, "".join(traceback.format_exception(caught)[-6:]))
        took = time.perf_counter() - start
        if took > time_limit_s and outcome != "other":
            outcome = "hang"  # also when every alarm was swallowed and the call came back
        if outcome == "hang":
            tally.hangs += 1
            record("hang", value, f"took {took:.1f} s, the limit is {time_limit_s} s")
        elif outcome == "typed":
            tally.typed_errors += 1
        elif outcome == "result":
            tally.results += 1
        else:
            tally.other += 1
        if measure:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            tally.peak_bytes = max(tally.peak_bytes, peak)
            if peak > memory_limit_bytes:
                tally.memory += 1
                record("memory", value, f"{peak / 2**20:.0f} MiB traced while parsing")
        if took > tally.slowest_s:
            tally.slowest_s, tally.slowest_repr = took, _short(target.show(value), 300)

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    began = time.perf_counter()
    try:
        run()
    finally:
        signal.signal(signal.SIGALRM, previous)
        tally.elapsed_s = time.perf_counter() - began
    return tally
