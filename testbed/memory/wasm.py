"""The heap a node app's codec needs on a current MicroPython: 1.27, webassembly port, in node.

What it is: the smallest heap with which importing the app's codec modules and encoding its
first reading succeed (`smallest_heap`), found by bisection over the heap the interpreter
starts with, and the live heap while it keeps encoding readings in that heap (`steady`).

Why bisection needs care on this port: while Python code runs it does not collect (it cannot
scan the WebAssembly stack for roots; a gc.collect() inside a run frees nothing that run
allocated) and a full heap gets a new heap area instead (micropython.mem_info() "GC: total"
grows). Between runs it collects. So the codec runs as a board's firmware would with a
collection after each step (each module's import, each reading), one run per step, and
"succeeded in a heap of H bytes" means: started with H and never grew. Within a step nothing
is freed, so H is an upper bound for a board, whose collector also runs inside a step; the
live heap after each step is the lower bound. What it is not: the whole firmware (its socket
loop and config are not part of a codec, as in heap.py) nor a board: a port's own modules and
its C stack are not in this heap.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from testbed.backends.processes import dies_with_parent
from testbed.errors import TestbedError
from testbed.memory.heap import AppCodec, strip_source

PLATFORM = "micropython-1.27-webassembly"
TOOLS = Path(__file__).resolve().parents[2] / "tools" / "micropython-wasm"
PACKAGE = TOOLS / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
LOW, HIGH, STEP = 2048, 1 << 20, 256  # the bisection's range and resolution, bytes
STEADY_READINGS = 50
_TOTAL = re.compile(r"GC: total: (\d+)")


class WasmError(TestbedError):
    """MicroPython 1.27 could not be run (not installed, or node failed)."""


@dataclass(frozen=True, slots=True)
class HeapNeed:
    """An app's codec on MicroPython 1.27: `smallest_heap` (bytes) started with which import +
    first reading never grew the heap (nothing collected in between: an upper bound); live
    bytes after import and after that reading (the lower bound); `steady_live`, the largest
    live heap after each of STEADY_READINGS more readings (collected after each: no leak if
    it stays at after_encode)."""

    platform: str
    smallest_heap: int | None = None
    after_import: int | None = None
    after_encode: int | None = None
    steady_live: int | None = None
    wire_bytes: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class WasmMicroPython:
    """One node process running tools/micropython-wasm/repl.mjs: reset, write, exec."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def _ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:  # gone before the command was written
            line = ""
        if not line:
            status = self.process.wait()
            said = (self.process.stderr.read() if self.process.stderr else "").strip()
            raise WasmError(f"MicroPython 1.27 ({TOOLS / 'repl.mjs'}, node) exited with "
                            f"{status}: {said.splitlines()[-1] if said else 'nothing on stderr'}")
        return json.loads(line)

    def reset(self, heapsize: int) -> None:
        self._ask(op="reset", heapsize=heapsize)

    def write_file(self, name: str, text: str) -> None:
        self._ask(op="write", name=name, text=text)

    def exec(self, code: str) -> tuple[bool, str, str]:
        """(ok, printed text, "Type: message" of what it raised)."""
        answer = self._ask(op="exec", code=code)
        error = str(answer.get("error") or "").strip().splitlines()
        return bool(answer["ok"]), str(answer.get("out", "")), error[-1] if error else ""


@contextmanager
def micropython_127() -> Iterator[WasmMicroPython]:
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        raise WasmError("MicroPython 1.27 is not installed (make micropython-wasm: nodejs and "
                        "the pinned npm package in tools/micropython-wasm)")
    # dies with the thread that measures (it waits for it): no node left if the run is killed
    process = subprocess.Popen(dies_with_parent([node, str(TOOLS / "repl.mjs")], lasting=False),
                               cwd=TOOLS, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)  # a few lines at most, read at exit
    try:
        yield WasmMicroPython(process)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _total(out: str) -> int:
    match = _TOTAL.search(out)
    if match is None:
        raise WasmError(f"no 'GC: total' in micropython.mem_info(): {out[:200]!r}")
    return int(match[1])


def _run_in(mp: WasmMicroPython, heap: int, sources: dict[str, str], steps: list[str]
            ) -> tuple[bool, list[int], str]:
    """Run each step in a fresh interpreter started with `heap`, collecting after each: (ran
    without raising and without growing the heap, live bytes after each step, what it
    raised)."""
    mp.reset(heap)
    for module, text in sources.items():
        mp.write_file(f"{module}.py", text)
    measure = "import gc, micropython\ngc.collect()\nprint(gc.mem_alloc())\nmicropython.mem_info()"
    start = _total(mp.exec(measure)[1])
    live = []
    for step in steps:
        ok, _, error = mp.exec(step)
        if not ok:
            return False, live, error
        out = mp.exec(measure)[1]
        live.append(int(out.split()[0]))
    return _total(out) == start, live, ""


def _smallest(mp: WasmMicroPython, sources: dict[str, str], steps: list[str]) -> int:
    """The smallest starting heap (a multiple of STEP in LOW..HIGH) the steps run in without
    growing it, given that they run in HIGH."""
    low, high = LOW, HIGH  # high works, low is not known to
    while high - low > STEP:
        middle = (low + high) // 2 // STEP * STEP
        if _run_in(mp, middle, sources, steps)[0]:
            high = middle
        else:
            low = middle
    return high


def heap_need(mp: WasmMicroPython, app_dir: Path, codec: AppCodec) -> HeapNeed:
    """Bisection for the smallest starting heap that the imports and the first reading fit in
    (a collection after each), and the live heap over STEADY_READINGS more readings."""
    sources = {m: strip_source((app_dir / f"{m}.py").read_text()) for m in codec.modules}
    imports = [f"import {m}" for m in codec.modules]
    encode = f"import {', '.join(codec.modules)}\n{codec.encode}"
    first = [*imports, encode]
    ok, _, error = _run_in(mp, HIGH, sources, first)
    if not ok:
        return HeapNeed(PLATFORM, error=error or f"needs more than {HIGH} B")
    smallest = _smallest(mp, sources, first)
    ok, live, error = _run_in(mp, HIGH, sources, [*first, "print(len(wire))",
                                                  *[encode] * STEADY_READINGS])
    wire_bytes = mp.exec("print(len(wire))")[1].split()
    return HeapNeed(PLATFORM, smallest_heap=smallest, after_import=live[len(imports) - 1],
                    after_encode=live[len(imports)],
                    steady_live=max(live[len(imports) + 2:]) if ok else None,
                    wire_bytes=int(wire_bytes[0]) if wire_bytes else None,
                    error=None if ok else f"steady: {error}")
