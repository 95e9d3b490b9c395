"""ROM and RAM of an ELF firmware image (a Contiki build, any Cortex-M or MSP430 image).

What it is: section sizes read with pyelftools, summed the way the linker places them:
    ROM = every SHF_ALLOC section that is not NOBITS (.text, .rodata, .ARM.exidx, ... and
          .data, whose initial values are stored in flash and copied at start-up)
    RAM = every SHF_ALLOC|SHF_WRITE section (.data, and NOBITS .bss, .noinit, heap/stack
          sections)
These are `arm-none-eabi-size`'s Berkeley columns: ROM = text + data, RAM = data + bss
(binutils size.c: text = alloc, read-only, with contents; data = alloc, writable, with
contents; bss = alloc without contents). What it is not: a map-file analysis per symbol.
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


def elf_sizes(path: str | Path) -> ElfSizes:
    path = Path(path)
    text = data = bss = 0
    try:
        with path.open("rb") as f:
            for section in ELFFile(f).iter_sections():
                flags = section["sh_flags"]
                if not flags & SH_FLAGS.SHF_ALLOC:
                    continue
                size = section["sh_size"]
                if section["sh_type"] == "SHT_NOBITS":
                    bss += size
                elif flags & SH_FLAGS.SHF_WRITE:
                    data += size
                else:
                    text += size
    except ELFError as exc:
        raise ElfError(f"{path}: not an ELF file: {exc}") from exc
    except OSError as exc:
        raise ElfError(f"{path}: cannot read: {exc}") from exc
    return ElfSizes(text=text, data=data, bss=bss)
