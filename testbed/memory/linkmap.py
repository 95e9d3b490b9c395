"""A GNU ld linker map (`-Wl,-Map=file`), read: which input section of which object file went
into which output section, at what address and size.

What it is: a parser of the map's "Linker script and memory map" part, the only part that says
where bytes ended up (the archive-member and discarded-section lists before it do not). What
it is not: a ROM/RAM figure; the output sections' columns come from the ELF
(testbed/memory/modules.py puts both together).

The format, as ld (binutils ldlang.c, print_output_section_statement / print_input_section)
writes it:

    .text           0x00202000     0xd0e3            <- output section: name, address, size
     *(.text*)                                        <- the script's statement (skipped)
     .text.adc_init                                   <- input section; a name longer than 14
                    0x0020228c       0x10 obj/adc.o   <- characters wraps to the next line
                    0x0020228c                adc_init  <- a symbol (skipped)
     .text          0x0020229c       0x64 libc.a(lib_a-memcpy.o)   <- an archive member
     *fill*         0x0020e67a        0x2             <- alignment bytes
                                     0x2a (size before relaxing)   <- (skipped)
    .data           0x20000040      0x931 load address 0x0020f0e4
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import BadInput


class MapError(BadInput):
    """Not a GNU ld map, or a line of one that does not parse (names file and line)."""


@dataclass(frozen=True, slots=True)
class InputSection:
    """Bytes one object file put into an output section. `file` is the object's path as ld
    printed it ('linker stubs' for what ld made itself); `member` the archive member when the
    object came from a library (`libc.a(lib_a-memcpy.o)` -> file libc.a, member lib_a-memcpy.o).
    Fill (alignment) bytes are an InputSection named '*fill*' with file ''."""

    name: str
    address: int
    size: int
    file: str
    member: str | None = None

    @property
    def is_fill(self) -> bool:
        return self.name == "*fill*"


@dataclass(frozen=True, slots=True)
class OutputSection:
    name: str
    address: int
    size: int
    load_address: int | None
    inputs: tuple[InputSection, ...]

    def owned(self) -> list[tuple[InputSection, int]]:
        """Each input section with the bytes it alone holds, in address order.

        Merged string sections (.rodata.str1.1, SHF_MERGE|SHF_STRINGS) overlap after ld
        merges them: a string that ends another is stored once and listed under both objects.
        Those bytes count once, for the input that comes first in address order, so that the
        inputs add up to the section."""
        owned = []
        covered = None
        for item in sorted(self.inputs, key=lambda i: i.address):
            end = item.address + item.size
            begin = item.address if covered is None else max(item.address, covered)
            owned.append((item, max(0, end - begin)))
            covered = end if covered is None else max(covered, end)
        return owned

    @property
    def unaccounted(self) -> int:
        """Bytes of the section no input section and no *fill* names (ALIGN in the script,
        assignments like `. += 0x800`)."""
        return self.size - sum(size for _, size in self.owned())


@dataclass(frozen=True, slots=True)
class LinkMap:
    sections: tuple[OutputSection, ...]

    def section(self, name: str) -> OutputSection:
        for section in self.sections:
            if section.name == name:
                return section
        raise KeyError(name)


HEADER = "Linker script and memory map"
_HEX = r"0x[0-9a-fA-F]+"
# the address/size part of a section line: "0x... 0x... [rest]"
_PLACED = re.compile(rf"\s*({_HEX})\s+({_HEX})(?:\s+(.*))?$")
_LOAD = re.compile(rf"load address ({_HEX})")
_MEMBER = re.compile(r"^(.+\.a)\((.+)\)$")
# lines at the left margin that are not output sections
_NOT_SECTIONS = ("LOAD ", "OUTPUT(", "START GROUP", "END GROUP", "/DISCARD/", "*")
_END = "Cross Reference Table"


class _Reader:
    """Line by line; `pending` is a section name whose address and size are on the next line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sections: list[OutputSection] = []
        self.current: OutputSection | None = None
        self.inputs: list[InputSection] = []
        self.pending: tuple[str, bool] | None = None

    def line(self, number: int, line: str) -> None:
        if self.pending is not None:
            name, is_output = self.pending
            self.pending = None
            placed = _PLACED.match(line)
            if placed:
                self.placed(number, name, is_output, placed)
                return
            # no address line (an empty output section): the line is read as itself
        if not line[0].isspace():
            if not line.startswith(_NOT_SECTIONS):
                self.named(number, line, is_output=True)
        elif line.startswith(" ") and not line.startswith("  "):
            body = line[1:]
            if not body.startswith("*") or body.startswith("*fill*"):  # skip *(.text*) etc.
                self.named(number, body, is_output=False)
        # deeper-indented lines without a pending name are symbols, assignments, "(size
        # before relaxing)", ASSERT or FILL statements: none of them holds bytes of its own

    def named(self, number: int, line: str, *, is_output: bool) -> None:
        name, _, rest = line.partition(" ")
        if not rest.strip():
            self.pending = (name, is_output)
            return
        placed = _PLACED.match(rest)
        if placed:
            self.placed(number, name, is_output, placed)

    def placed(self, number: int, name: str, is_output: bool, placed: re.Match) -> None:
        address, size = int(placed.group(1), 16), int(placed.group(2), 16)
        rest = (placed.group(3) or "").strip()
        if is_output:
            self.close()
            load = _LOAD.search(rest)
            self.current = OutputSection(name, address, size,
                                         int(load.group(1), 16) if load else None, ())
            return
        if self.current is None:
            raise MapError(f"{self.source}:{number}: input section {name} before any output "
                           "section")
        if name == "*fill*":
            self.inputs.append(InputSection(name, address, size, ""))
            return
        member = _MEMBER.match(rest)
        self.inputs.append(InputSection(name, address, size, member.group(1), member.group(2))
                           if member else InputSection(name, address, size, rest))

    def close(self) -> None:
        if self.current is not None:
            self.sections.append(OutputSection(self.current.name, self.current.address,
                                               self.current.size, self.current.load_address,
                                               tuple(self.inputs)))
        self.current, self.inputs = None, []


def parse_map(text: str, source: str = "<map>") -> LinkMap:
    """The output sections of a map and their input sections, in map order."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    except StopIteration:
        raise MapError(f"{source}: not a GNU ld map (no '{HEADER}' line; link with "
                       "-Wl,-Map=<file>)") from None
    reader = _Reader(source)
    for number, line in enumerate(lines[start + 1:], start=start + 2):
        if line.startswith(_END):
            break
        if line.strip():
            reader.line(number, line)
    reader.close()
    return LinkMap(tuple(reader.sections))


def read_map(path: str | Path) -> LinkMap:
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise MapError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_map(text, str(path))
