"""Stack frames of a firmware's functions, from GCC's -fstack-usage (.su files beside the objects).

What it is: per function, the bytes its own frame takes (GCC's figure, with its qualifier:
"static" = exact; "dynamic,bounded" = at most that; "dynamic" = alloca or a variable-length array,
no bound). What it is not, and does not see:
  - a call chain: the peak of the stack is the deepest *sum* of frames along calls, and .su
    files hold no calls (the largest frame is a lower bound of the peak, not the peak);
  - recursion, and calls through function pointers (Contiki's process threads, callbacks,
    netstack drivers are called that way), which no static call graph resolves;
  - interrupt handlers stacked on top of whatever runs, and code without .su files: assembly,
    libgcc and newlib (built without -fstack-usage), the startup code.
A Contiki protothread keeps no stack across a PT_YIELD (its locals do not survive), so a
process's frame counts only while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from testbed.errors import BadInput


#: what results.json says beside the frames
STACK_LIMITS = ("largest own frames from -fstack-usage; the peak along calls is more; not "
                "seen: recursion, calls through pointers, interrupts, libgcc/newlib, assembly")


class StackUsageError(BadInput):
    """A .su line that does not parse (names file and line)."""


@dataclass(frozen=True, slots=True)
class StackFrame:
    function: str
    source: str  # the source file as GCC was given it
    line: int
    bytes: int
    qualifier: str  # static | dynamic | dynamic,bounded

    @property
    def bounded(self) -> bool:
        return self.qualifier != "dynamic"


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
