"""The GNU ld map parser: a fixture in ld's own layout, maps that ld's printing rules generate
(hypothesis), and a real map of a link made here checked against the ELF it describes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.memory.elf import allocated_sections
from testbed.memory.linkmap import InputSection, MapError, parse_map, read_map

# Cut from a cc2538dk link of Contiki-NG's coap-example-server (arm-none-eabi-ld 2.40), with
# every kind of line the parser meets.
FIXTURE = """\
Archive member included to satisfy reference by file (symbol)

/usr/lib/arm-none-eabi/lib/thumb/v7-m/nofp/libc.a(lib_a-memcpy.o)
                              obj/uip6.o (memcpy)

Discarded input sections

 .text          0x00000000        0x0 obj/adc.o
 .bss.round_keys
                0x00000000       0x10 obj/aes-128.o

Memory Configuration

Name             Origin             Length             Attributes
FLASH_FW         0x00202000         0x0007dfd4         xr
*default*        0x00000000         0xffffffff

Linker script and memory map

LOAD obj/adc.o
START GROUP
LOAD /usr/lib/arm-none-eabi/lib/thumb/v7-m/nofp/libc.a
END GROUP

.text           0x00202000      0x120
                0x00202000                        _text = .
 *(SORT_BY_ALIGNMENT(.vectors))
 .vectors       0x00202000       0x28 obj/startup-gcc.o
                0x00202000                vectors
 *(SORT_BY_ALIGNMENT(.text*))
 .text.adc_init
                0x00202028       0x10 obj/adc.o
                0x00202028                adc_init
 .text          0x00202038       0x62 /usr/lib/arm-none-eabi/lib/thumb/v7-m/nofp/libc.a(lib_a-memcpy.o)
                0x00202038                memcpy
 *fill*         0x0020209a        0x2 
 .rodata.str1.1
                0x0020209c       0x20 obj/uiplib.o
                                 0x2a (size before relaxing)
 .rodata.log_6addr.str1.1
                0x002020b0        0x4 obj/log.o
 .glue_7        0x002020bc        0x0 linker stubs
                0x00202120                        _etext = .

.data           0x20000000       0x18 load address 0x00202120
 .data.rf_channel
                0x20000000        0x1 obj/cc2538-rf.o
 *fill*         0x20000001        0x3 
 .data          0x20000004       0x14 obj/res-mirror.o

.bss            0x20000018      0x104
 .bss.uip_flags
                0x20000018        0x1 obj/uip6.o
                0x20000018                uip_flags
 COMMON         0x2000001c      0x100 obj/uip6.o
 *(SORT_BY_ALIGNMENT(COMMON))

.nrdata         0x20000000        0x0
 *(SORT_BY_ALIGNMENT(.nrdata*))

.debug_rnglists
                0x00000000       0xdf
 .debug_rnglists
                0x00000000       0xdf obj/adc.o
OUTPUT(coap-example-server.cc2538dk elf32-littlearm)
LOAD linker stubs
"""


def test_the_fixture_reads_as_ld_wrote_it() -> None:
    linkmap = parse_map(FIXTURE, "fixture.map")
    assert [s.name for s in linkmap.sections] == [".text", ".data", ".bss", ".nrdata",
                                                  ".debug_rnglists"]
    text = linkmap.section(".text")
    assert (text.address, text.size, text.load_address) == (0x202000, 0x120, None)
    assert text.inputs == (
        InputSection(".vectors", 0x202000, 0x28, "obj/startup-gcc.o"),
        InputSection(".text.adc_init", 0x202028, 0x10, "obj/adc.o"),
        InputSection(".text", 0x202038, 0x62,
                     "/usr/lib/arm-none-eabi/lib/thumb/v7-m/nofp/libc.a", "lib_a-memcpy.o"),
        InputSection("*fill*", 0x20209A, 0x2, ""),
        InputSection(".rodata.str1.1", 0x20209C, 0x20, "obj/uiplib.o"),
        InputSection(".rodata.log_6addr.str1.1", 0x2020B0, 0x4, "obj/log.o"),
        InputSection(".glue_7", 0x2020BC, 0, "linker stubs"),
    )
    # the merged string of log.o lies inside uiplib.o's: counted once
    owned = dict((i.name, size) for i, size in text.owned())
    assert owned[".rodata.str1.1"] == 0x20 and owned[".rodata.log_6addr.str1.1"] == 0
    assert text.unaccounted == 0x120 - (0x28 + 0x10 + 0x62 + 0x2 + 0x20)
    data = linkmap.section(".data")
    assert data.load_address == 0x202120 and data.unaccounted == 0
    bss = linkmap.section(".bss")
    assert bss.inputs[1] == InputSection("COMMON", 0x2000001C, 0x100, "obj/uip6.o")
    assert linkmap.section(".nrdata").inputs == ()
    assert linkmap.section(".debug_rnglists").size == 0xDF


def test_what_is_not_a_map_says_so(tmp_path: Path) -> None:
    with pytest.raises(MapError, match=r"x\.map: not a GNU ld map \(no 'Linker script and "
                                       r"memory map' line"):
        parse_map("Memory Configuration\n", "x.map")
    with pytest.raises(MapError, match=r"gone\.map: cannot read"):
        read_map(tmp_path / "gone.map")
    with pytest.raises(MapError, match=r"y\.map:3: input section \.text before any output"):
        parse_map("Linker script and memory map\n\n .text  0x0 0x4 a.o\n", "y.map")


# --- maps written by ld's printing rules (binutils ld/ldlang.c) ---------------------------------

NAME_COLUMN = 16  # SECTION_NAME_MAP_LENGTH


def ld_line(name: str, address: int, size: int, tail: str, *, indent: str) -> str:
    """print_input_section / print_output_section_statement: the name, then a new line when it
    does not fit its 16 columns, then address and size."""
    head = indent + name
    if len(head) >= NAME_COLUMN - 1:
        head += "\n" + " " * NAME_COLUMN
    else:
        head = head.ljust(NAME_COLUMN)
    return f"{head}0x{address:08x} {f'0x{size:x}':>10} {tail}".rstrip() + "\n"


names = st.from_regex(r"\.(text|data|bss|rodata)(\.[a-z_][a-z0-9_]{0,24}){0,2}", fullmatch=True)
files = st.one_of(
    st.from_regex(r"/[a-z]{1,8}/obj/[a-z][a-z0-9-]{0,12}\.o", fullmatch=True),
    st.tuples(st.from_regex(r"/usr/lib/[a-z]{1,6}/lib[a-z]{1,5}\.a", fullmatch=True),
              st.from_regex(r"lib_a-[a-z]{1,8}\.o", fullmatch=True)),
)


@st.composite
def sections(draw):
    out = []
    address = 0x200000
    for index in range(draw(st.integers(1, 4))):
        start = address
        inputs = []
        for _ in range(draw(st.integers(0, 6))):
            if draw(st.booleans()) and inputs:
                pad = draw(st.integers(1, 3))
                inputs.append(InputSection("*fill*", address, pad, ""))
                address += pad
            size = draw(st.integers(0, 5000))
            file = draw(files)
            inputs.append(InputSection(draw(names), address, size, *(
                file if isinstance(file, tuple) else (file,))))
            address += size
        address += draw(st.integers(0, 8))  # ALIGN in the script
        out.append((f".out{index}" + draw(st.sampled_from(["", "_with_a_long_name"])), start,
                    address - start, tuple(inputs)))
    return out


def render(drawn) -> str:
    text = "Linker script and memory map\n\nLOAD a.o\n\n"
    for name, address, size, inputs in drawn:
        text += ld_line(name, address, size, "", indent="")
        text += f"                0x{address:08x}                        _start_{name[1:]} = .\n"
        text += " *(SORT_BY_ALIGNMENT(.text*))\n"
        for item in inputs:
            tail = item.file if item.member is None else f"{item.file}({item.member})"
            text += ld_line(item.name, item.address, item.size, tail, indent=" ")
            if item.size and not item.name == "*fill*":
                text += f"                0x{item.address:08x}                symbol_{item.size}\n"
        text += "\n"
    return text + "OUTPUT(fw.elf elf32-littlearm)\n"


@settings(max_examples=200, deadline=None)
@given(sections())
def test_maps_in_lds_layout_read_back_to_what_was_written(drawn) -> None:
    linkmap = parse_map(render(drawn))
    assert [(s.name, s.address, s.size, s.inputs) for s in linkmap.sections] == \
        [(name, address, size, inputs) for name, address, size, inputs in drawn]
    for section in linkmap.sections:
        assert section.unaccounted >= 0  # no overlap here: every gap is the script's ALIGN
        assert sum(size for _, size in section.owned()) + section.unaccounted == section.size


# --- a real link ---------------------------------------------------------------------------

C_SOURCE = """
const char banner[] = "a string long enough to be seen in .rodata";
int counter = 42;
char buffer[300];
int a_function_with_a_name_longer_than_the_column(int n) { return n * counter + buffer[n]; }
void _start(void) { counter = a_function_with_a_name_longer_than_the_column(banner[3]); for (;;) {} }
"""


def test_a_real_maps_output_sections_are_the_elfs(tmp_path: Path) -> None:
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("no Arm toolchain: apt-get install gcc-arm-none-eabi")
    (tmp_path / "fw.c").write_text(C_SOURCE)
    cpu = ["-mcpu=cortex-m3", "-mthumb"]
    subprocess.run(["arm-none-eabi-gcc", *cpu, "-Os", "-ffunction-sections", "-fdata-sections",
                    "-c", "-o", "fw.o", "fw.c"], cwd=tmp_path, check=True)
    subprocess.run(["arm-none-eabi-gcc", *cpu, "-nostdlib", "-Wl,--gc-sections",
                    "-Wl,-Map=fw.map", "-Wl,-Ttext=0x0", "-o", "fw.elf", "fw.o"],
                   cwd=tmp_path, check=True)
    linkmap = read_map(tmp_path / "fw.map")
    placed = {s.name: s for s in linkmap.sections}
    for section in allocated_sections(tmp_path / "fw.elf"):
        assert placed[section.name].size == section.size, section.name
    text = placed[".text"]
    assert any(i.name == ".text.a_function_with_a_name_longer_than_the_column"
               and i.file.endswith("fw.o") and i.size > 0 for i in text.inputs)
    assert placed[".bss"].size >= 300
