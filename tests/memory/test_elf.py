"""ELF ROM/RAM with pyelftools against arm-none-eabi-size on an ELF built here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.memory.elf import ElfError, elf_sizes

C_SOURCE = """
const unsigned char table[300] = {1, 2, 3};        /* .rodata */
int counter = 42;                                   /* .data */
char buffer[1000];                                  /* .bss */
static int scratch[17];                             /* .bss */
int work(int n) { for (int i = 0; i < n; i++) { buffer[i] = table[i]; scratch[i & 15] += i; }
                  return counter + scratch[3]; }
void _start(void) { counter = work(10); for (;;) {} }
"""


@pytest.fixture(scope="module")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("no Arm toolchain: apt-get install gcc-arm-none-eabi binutils-arm-none-eabi")
    directory = tmp_path_factory.mktemp("elf")
    (directory / "fw.c").write_text(C_SOURCE)
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m0", "-mthumb", "-Os", "-nostdlib", "-fno-tree-loop-distribute-patterns",
                    "-Wl,-Ttext=0x0", "-o", "fw.elf", "fw.c"], cwd=directory, check=True)
    return directory / "fw.elf"


def berkeley(path: Path) -> tuple[int, int, int]:
    out = subprocess.run(["arm-none-eabi-size", "-B", str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    text, data, bss = (int(v) for v in out[1].split()[:3])
    return text, data, bss


def test_rom_and_ram_equal_arm_none_eabi_size(firmware: Path) -> None:
    text, data, bss = berkeley(firmware)
    sizes = elf_sizes(firmware)
    assert (sizes.text, sizes.data, sizes.bss) == (text, data, bss)
    assert sizes.rom == text + data and sizes.ram == data + bss
    assert sizes.text >= 300 and sizes.data >= 4 and sizes.bss >= 1000 + 17 * 4  # what the C holds
    assert sizes.to_json() == {"rom": text + data, "ram": data + bss, "text": text, "data": data,
                               "bss": bss}


def test_not_an_elf_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "firmware.hex"
    bad.write_text(":020000040000FA\n")
    with pytest.raises(ElfError, match=r"firmware\.hex: not an ELF file"):
        elf_sizes(bad)
    with pytest.raises(ElfError, match=r"missing\.elf: cannot read"):
        elf_sizes(tmp_path / "missing.elf")
