"""Fuzz every parser that reads bytes or text from outside: N generated inputs each.

A script, not a test: `python benchmarks/fuzz_parsers.py [--examples 100000] [--only NAME]`.
Each parser (tests/fuzz/targets.py) runs in its own child process under RLIMIT_AS, so a
runaway allocation becomes a MemoryError there and one parser's memory does not count for
the next. Prints one table row per parser (inputs tried, results, typed errors, other
exceptions, hangs, slowest input, peak traced memory) and, for the first finding, the input
that reproduces it. Exits 1 if any parser raised another exception, hung or ran away.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import queue as queue_module
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.harness import Tally, fuzz  # noqa: E402
from tests.fuzz.targets import TARGETS  # noqa: E402

ADDRESS_SPACE_BYTES = 3 * 1024**3  # per child: far above what any parser should need


def _child(index: int, examples: int, time_limit_s: float, out: multiprocessing.Queue) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    tally = fuzz(TARGETS[index], examples, time_limit_s=time_limit_s)
    out.put((index, tally, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _row(tally: Tally, rss_kib: int) -> str:
    return (f"| {tally.name} | {tally.tried:,} | {tally.results:,} | {tally.typed_errors:,} | "
            f"{tally.other} | {tally.hangs} | {tally.memory} | {tally.slowest_s * 1000:.1f} | "
            f"{tally.peak_bytes / 2**20:.1f} | {rss_kib / 1024:.0f} | {tally.elapsed_s:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="inputs per parser")
    parser.add_argument("--only", action="append", default=[],
                        help="run only parsers whose name contains this (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="parsers fuzzed at once")
    parser.add_argument("--time-limit", type=float, default=2.0,
                        help="seconds one input may take before it counts as a hang")
    args = parser.parse_args(argv)
    chosen = [i for i, t in enumerate(TARGETS)
              if not args.only or any(o.lower() in t.name.lower() for o in args.only)]
    if not chosen:
        parser.error(f"no parser matches {args.only}; names: "
                     + ", ".join(t.name for t in TARGETS))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"fuzz_parsers: {args.examples:,} inputs per parser, {len(chosen)} parsers, {when}, "
          f"{_cpu()}, {os.cpu_count()} cores, CPython {platform.python_version()}",
          flush=True)
    print("| parser | inputs | results | typed errors | other exceptions | hangs | "
          "memory | slowest ms | peak traced MiB | child max RSS MiB | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = context.Queue()
    pending = list(chosen)
    running: dict[int, multiprocessing.Process] = {}
    tallies: dict[int, Tally] = {}
    failed = False
    while pending or running:
        while pending and len(running) < max(args.jobs, 1):
            index = pending.pop(0)
            process = context.Process(target=_child,
                                      args=(index, args.examples, args.time_limit, queue))
            process.start()
            running[index] = process
        try:
            index, tally, rss = queue.get(timeout=5)
        except queue_module.Empty:
            for index, process in list(running.items()):
                # gone, and no tally came in 5 s: killed (RLIMIT_AS, a signal) or broken
                if not process.is_alive():
                    running.pop(index)
                    print(f"| {TARGETS[index].name} | child died, exit code "
                          f"{process.exitcode} |", flush=True)
                    failed = True
            continue
        running.pop(index).join()
        tallies[index] = tally
        print(_row(tally, rss), flush=True)
        failed |= tally.findings > 0
    for index in chosen:
        tally = tallies.get(index)  # None: its child died without one (said above)
        if tally is not None and tally.first is not None:
            print(f"\nFIRST FINDING in {tally.name}: {tally.first.kind} "
                  f"({', '.join(f'{k} x{n}' for k, n in tally.kinds.items()) or tally.first.kind})")
            print(f"input: {tally.first.input_repr}")
            print(tally.first.detail.rstrip())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
