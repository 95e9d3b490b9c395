"""The results.json `memory` section (its lines are the report's: tests/report/test_model.py)."""

from __future__ import annotations

from pathlib import Path

from testbed.backends.qemu import INSTALL_HINT, QemuMicrobit
from testbed.memory.summary import memory_section


def test_without_qemu_it_says_what_to_install() -> None:
    section = memory_section(QemuMicrobit(qemu="tb-no-such-qemu"))
    assert set(section) == {"coap-sensor", "xmpp-sensor"}
    for app, m in section.items():
        assert m["bytecode_bytes"] > 0 and m["source_bytes"] > m["bytecode_bytes"]
        assert m["elf"] is None
        assert m["heap"] == {"platform": "micropython-microbit-qemu", "fits": None,
                             "error": f"memory: QEMU micro:bit not installed: {INSTALL_HINT}"}


def test_a_given_elf_is_reported(tmp_path: Path) -> None:
    import sys

    section = memory_section(None, apps=("coap-sensor",),
                             elf={"coap-sensor": Path(sys.executable).resolve()})
    elf = section["coap-sensor"]["elf"]
    assert elf["rom"] == elf["text"] + elf["data"] and elf["ram"] == elf["data"] + elf["bss"]
    assert section["coap-sensor"]["heap"]["error"] == "memory: no board given"
