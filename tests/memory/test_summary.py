"""The results.json `memory` section and its compare lines."""

from __future__ import annotations

from pathlib import Path

from testbed.backends.qemu import INSTALL_HINT, QemuMicrobit
from testbed.memory.summary import memory_lines, memory_section


def test_without_qemu_it_says_what_to_install() -> None:
    section = memory_section(QemuMicrobit(qemu="tb-no-such-qemu"))
    assert set(section) == {"coap-sensor", "xmpp-sensor"}
    for app, m in section.items():
        assert m["bytecode_bytes"] > 0 and m["source_bytes"] > m["bytecode_bytes"]
        assert m["elf"] is None
        assert m["heap"] == {"platform": "micropython-microbit-qemu", "fits": None,
                             "error": f"memory: QEMU micro:bit not installed: {INSTALL_HINT}"}
    lines = memory_lines(section)
    assert lines[0].startswith("memory coap-sensor: bytecode ")
    assert lines[0].endswith("memory: QEMU micro:bit not installed: apt-get install "
                             "qemu-system-arm firmware-microbit-micropython")


def test_a_given_elf_is_reported(tmp_path: Path) -> None:
    import sys

    section = memory_section(None, apps=("coap-sensor",),
                             elf={"coap-sensor": Path(sys.executable).resolve()})
    elf = section["coap-sensor"]["elf"]
    assert elf["rom"] == elf["text"] + elf["data"] and elf["ram"] == elf["data"] + elf["bss"]
    assert section["coap-sensor"]["heap"]["error"] == "memory: no board given"
    assert "ELF ROM" in memory_lines(section)[0]


def test_lines_for_measured_figures() -> None:
    memory = {"tiny": {"bytecode_bytes": 10, "source_bytes": 30, "elf": None, "heap": {
        "platform": "p", "heap_total": 100, "before": 1, "after_import": 2, "after_encode": 3,
        "peak": 4, "fits": True, "error": None}}}
    assert memory_lines(memory) == ["memory tiny: bytecode 10 B (source 30 B); heap on p of "
                                    "100 B: before 1, after_import 2, after_encode 3, peak 4; fits"]
