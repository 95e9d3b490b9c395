"""ROM and RAM of an ELF firmware image (a Contiki build, any Cortex-M or MSP430 image).

What it is: section sizes read with pyelftools, summed the way the linker places them:
    ROM = every SHF_ALLOC section that is not NOBITS (.text, .rodata, .ARM.exidx, ... and
          .data, whose initial values are stored in flash and copied at start-up)
    RAM = every SHF_ALLOC|SHF_WRITE section (.data, and NOBITS .bss, .noinit, heap/stack
          sections)
These are `arm-none-eabi-size`'s Berkeley columns: ROM = text + data, RAM = data + bss
(binutils size.c: text = alloc, read-only, with contents; data = alloc, writable, with
contents; bss = alloc without contents). What it is not: the share by module, which needs the
linker map (testbed/memory/modules.py, on top of `allocated_sections`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from testbed.errors import BadInput


class ElfError(BadInput):
    """Not an ELF file (the message names the file)."""


@dataclass(frozen=True, slots=True)
class ElfSizes:
    """Berkeley `size` columns and the ROM/RAM they make."""

    text: int
    data: int
    bss: int

    @property
    def rom(self) -> int:
        return self.text + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss

    def to_json(self) -> dict[str, int]:
        return {"rom": self.rom, "ram": self.ram, "text": self.text, "data": self.data,
                "bss": self.bss}


@dataclass(frozen=True, slots=True)
class Section:
    """One allocated section: its name, Berkeley column ("text", "data", "bss") and size."""

    name: str
    kind: str
    size: int


def allocated_sections(path: str | Path) -> list[Section]:
    """The sections the image loads, in file order; debug, symbols and .comment are left out.
    A linker map's output sections are these, so its input sections take their column from
    here (testbed/memory/modules.py)."""
    path = Path(path)
    sections = []
    try:
        with path.open("rb") as f:
            for section in ELFFile(f).iter_sections():
                flags = section["sh_flags"]
                if not flags & SH_FLAGS.SHF_ALLOC:
                    continue
                if section["sh_type"] == "SHT_NOBITS":
                    kind = "bss"
                elif flags & SH_FLAGS.SHF_WRITE:
                    kind = "data"
                else:
                    kind = "text"
                sections.append(Section(section.name, kind, section["sh_size"]))
    except ELFError as exc:
        raise ElfError(f"{path}: not an ELF file: {exc}") from exc
    except OSError as exc:
        raise ElfError(f"{path}: cannot read: {exc}") from exc
    return sections


def elf_sizes(path: str | Path) -> ElfSizes:
    columns = {"text": 0, "data": 0, "bss": 0}
    for section in allocated_sections(path):
        columns[section.kind] += section.size
    return ElfSizes(**columns)


def function_symbols(path: str | Path) -> set[str]:
    """Names of the functions the image holds (STT_FUNC symbols, local ones included)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            symtab = ELFFile(f).get_section_by_name(".symtab")
            if symtab is None:
                return set()
            return {s.name for s in symtab.iter_symbols()
                    if s["st_info"]["type"] == "STT_FUNC" and s.name}
    except ELFError as exc:
        raise ElfError(f"{path}: not an ELF file: {exc}") from exc
