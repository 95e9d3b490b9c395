"""Stack use of a firmware's functions, from GCC: -fstack-usage (.su files) for each function's
own frame, -fcallgraph-info=su (.ci files, GCC >= 10) for the calls between them.

What it is: per function, the bytes of its own frame (GCC's qualifier: "static" = exact;
"dynamic,bounded" = at most that; "dynamic" = alloca or a variable-length array, no bound), and
the deepest chain of direct calls below it: the sum of the frames along the heaviest path.
What it does not see, and says so per chain:
  - calls through function pointers (`through_pointer`): Contiki calls every process thread,
    callback, netstack and radio driver that way, so `main`'s chain stops at call_process();
    a thread's own chain starts at its process_thread_<name> function;
  - recursion (`recursive`): a cycle is cut where it closes, one turn counted;
  - functions with no .su/.ci (`unknown`): libgcc, newlib (memcpy, printf's internals),
    assembly and the startup code count 0 bytes;
  - interrupt handlers stacked on whatever runs, and the exception frame the CPU pushes.
A Contiki protothread keeps no stack across a PT_YIELD (its locals do not survive), so a
process's chain counts only while it runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from testbed.errors import BadInput


#: what results.json says beside the frames
STACK_LIMITS = ("chains: sums of -fstack-usage frames along direct calls (-fcallgraph-info); "
                "not seen: calls through pointers (process threads, callbacks, drivers), "
                "recursion beyond one turn, interrupts, libgcc/newlib/assembly (0 bytes)")


class StackUsageError(BadInput):
    """A .su line that does not parse (names file and line)."""


@dataclass(frozen=True, slots=True)
class StackFrame:
    function: str
    source: str  # the source file as GCC was given it
    line: int
    bytes: int
    qualifier: str  # static | dynamic | dynamic,bounded


def parse_su(text: str, source: str = "<su>") -> list[StackFrame]:
    """One .su file: `file:line:column:function<TAB>bytes<TAB>qualifier` per line."""
    frames = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            where, size, qualifier = line.rsplit("\t", 2)
            file, row, _column, function = where.rsplit(":", 3)
            frames.append(StackFrame(function, file, int(row), int(size), qualifier.strip()))
        except ValueError:
            raise StackUsageError(f"{source}:{number}: not a -fstack-usage line: "
                                  f"{line[:80]!r}") from None
    return frames


def stack_frames(objects: Path, *, functions: set[str] | None = None) -> list[StackFrame]:
    """Every frame of the .su files in `objects`, largest first. `functions`: keep only these
    names (the firmware's function symbols: --gc-sections drops functions that .su files still
    list; a static function's name may be shared by two files, and both are kept)."""
    frames = []
    for path in sorted(Path(objects).glob("*.su")):
        frames += parse_su(path.read_text(errors="replace"), str(path))
    if functions is not None:
        frames = [f for f in frames if f.function in functions]
    return sorted(frames, key=lambda f: (-f.bytes, f.function, f.source))


# --- call chains (-fcallgraph-info=su: one VCG graph per object) ------------------------------

INDIRECT = "__indirect_call"
_NODE = re.compile(r'^node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'^edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_BYTES = re.compile(r"(\d+) bytes \(([a-z,]+)\)")


@dataclass
class CallGraph:
    """Functions by GCC's title (`name`, or `file:name` for a static one) with their frame
    bytes, and who calls whom directly. A title with no frame is a function compiled
    elsewhere without .ci (a library's) or the indirect-call placeholder."""

    frames: dict[str, int] = field(default_factory=dict)
    calls: dict[str, set[str]] = field(default_factory=dict)

    def add_ci(self, text: str) -> None:
        for line in text.splitlines():
            node = _NODE.match(line)
            if node:
                found = _BYTES.search(node.group(2).replace("\\n", "\n"))
                if found:
                    self.frames[node.group(1)] = int(found.group(1))
                continue
            edge = _EDGE.match(line)
            if edge:
                self.calls.setdefault(edge.group(1), set()).add(edge.group(2))


@dataclass(frozen=True, slots=True)
class Chain:
    """The heaviest chain of direct calls from `function`: `bytes` = sum of its frames."""

    function: str
    bytes: int
    path: tuple[str, ...]
    through_pointer: bool  # something below calls through a pointer: the peak may be more
    recursive: bool  # a cycle was cut below
    unknown: tuple[str, ...]  # callees below with no frame (counted 0)


def read_callgraph(objects: Path) -> CallGraph:
    graph = CallGraph()
    for path in sorted(Path(objects).glob("*.ci")):
        graph.add_ci(path.read_text(errors="replace"))
    return graph


def name_of(title: str) -> str:
    return title.rsplit(":", 1)[-1]


def call_chains(graph: CallGraph) -> dict[str, Chain]:
    """The deepest chain from every function with a frame (memoised depth-first search; a
    call back into a function on the current path is a cycle, cut there)."""
    done: dict[str, Chain] = {}

    def visit(title: str, on_path: set[str]) -> Chain:
        if title in done:
            return done[title]
        own = graph.frames.get(title, 0)
        best: Chain | None = None
        pointer = recursive = False
        unknown: set[str] = set()
        on_path.add(title)
        for callee in sorted(graph.calls.get(title, ())):
            if callee == INDIRECT:
                pointer = True
                continue
            if callee in on_path:
                recursive = True
                continue
            if callee not in graph.frames:
                unknown.add(name_of(callee))
                continue
            below = visit(callee, on_path)
            pointer |= below.through_pointer
            recursive |= below.recursive
            unknown |= set(below.unknown)
            if best is None or below.bytes > best.bytes:
                best = below
        on_path.discard(title)
        chain = Chain(name_of(title), own + (best.bytes if best else 0),
                      (name_of(title),) + (best.path if best else ()), pointer, recursive,
                      tuple(sorted(unknown)))
        # kept also when a cycle was cut: the figure for a function in a cycle then depends on
        # where the search entered it (it is flagged), and the search stays linear
        done[title] = chain
        return chain

    return {title: visit(title, set()) for title in sorted(graph.frames)}
