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
        assert "elf" not in m  # a MicroPython app has none: memory.contiki.firmware has them
        assert m["heap"] == {"platform": "micropython-microbit-qemu", "fits": None,
                             "error": f"memory: QEMU micro:bit not installed: {INSTALL_HINT}"}


class _NoBoot:
    """A board whose image is a file but which must not be booted: a cached run reads the
    figures instead (open() failing proves no boot happened; nothing is measured here)."""

    platform = "micropython-microbit-qemu"

    def __init__(self, firmware: Path) -> None:
        self.firmware = firmware

    def missing(self) -> None:
        return None

    def open(self):
        raise AssertionError("booted although the cache holds these inputs' figures")


def test_heap_figures_come_from_the_cache_only_for_the_same_inputs(tmp_path: Path) -> None:
    import json
    import shutil

    from testbed.memory.summary import NODES_DIR, heap_cache_key

    nodes = tmp_path / "nodes"
    shutil.copytree(NODES_DIR / "coap-sensor", nodes / "coap-sensor",
                    ignore=shutil.ignore_patterns("tests", "__pycache__"))
    firmware = tmp_path / "firmware.hex"
    firmware.write_text(":00000001FF\n")
    board = _NoBoot(firmware)
    key = heap_cache_key(board, nodes, ("coap-sensor",))
    assert key is not None and heap_cache_key(None, nodes, ("coap-sensor",)) is None
    figures = {"platform": board.platform, "heap_total": 10000, "fits": False, "error": "x"}
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"{key}.json").write_text(json.dumps({"coap-sensor": figures}))
    section = memory_section(board, nodes_dir=nodes, apps=("coap-sensor",), cache=cache)
    assert section["coap-sensor"]["heap"] == {**figures, "cached": True}
    # another app file, another firmware image: other inputs, another key (measured afresh)
    (nodes / "coap-sensor" / "main.py").write_text("# changed\n")
    assert heap_cache_key(board, nodes, ("coap-sensor",)) != key
    firmware.write_text(":00000001FE\n")
    changed = heap_cache_key(board, nodes, ("coap-sensor",))
    assert changed is not None and changed != key


def test_a_cache_file_without_every_app_is_measured_again(tmp_path: Path) -> None:
    import json

    import pytest

    from testbed.memory.summary import NODES_DIR, heap_cache_key

    firmware = tmp_path / "firmware.hex"
    firmware.write_text(":00000001FF\n")
    board = _NoBoot(firmware)
    apps = ("coap-sensor", "xmpp-sensor")
    key = heap_cache_key(board, NODES_DIR, apps)
    (tmp_path / f"{key}.json").write_text(json.dumps({"coap-sensor": {"heap_total": 1}}))
    with pytest.raises(AssertionError, match="booted although"):  # it goes to the board
        memory_section(board, apps=apps, cache=tmp_path)
