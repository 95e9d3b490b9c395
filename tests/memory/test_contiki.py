"""results.json's memory.contiki: the project's C apps built for cc2538dk, checked against
binutils' arm-none-eabi-size of the same ELF (an independent reader of its section headers)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.contiki.build import CONTIKI_DIR, BuildOptions, build_firmware, shared_dir
from testbed.experiment.scenario import _board_memory
from testbed.memory.contiki import (APPS, ROM_CLASS_BYTES, XMPP_LIB_MODULE, contiki_memory,
                                    xmpp_source_modules)

MAKEFILE_XMPP = shared_dir() / "lib" / "xmpp" / "Makefile.xmpp"


def berkeley(path: str) -> tuple[int, int, int]:
    out = subprocess.run(["arm-none-eabi-size", "-B", path], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    text, data, bss = (int(v) for v in out[1].split()[:3])
    return text, data, bss


@pytest.fixture(scope="module")
def section() -> dict:
    if not (CONTIKI_DIR / "Makefile.include").is_file():
        pytest.skip("no Contiki-NG tree: make contiki")
    if not shutil.which("arm-none-eabi-gcc") or not shutil.which("arm-none-eabi-size"):
        pytest.skip("no ARM toolchain: apt-get install gcc-arm-none-eabi binutils-arm-none-eabi")
    return _board_memory()  # what a run puts in results.json (builds cached under build/)


def test_rom_and_ram_are_what_arm_none_eabi_size_says(section: dict) -> None:
    assert section["target"] == "cc2538dk" and set(section["firmware"]) == set(APPS)
    for app, entry in section["firmware"].items():
        assert "error" not in entry, entry.get("error")
        text, data, bss = berkeley(entry["elf"])
        assert (entry["text"], entry["data"], entry["bss"]) == (text, data, bss), app
        assert (entry["rom"], entry["ram"]) == (text + data, data + bss), app
        assert sum(m["rom"] for m in entry["modules"].values()) == entry["rom"], app
        assert sum(m["ram"] for m in entry["modules"].values()) == entry["ram"], app
        assert entry["fits_rom_class"] == (entry["rom"] <= ROM_CLASS_BYTES)
        assert entry["rom"] < section["board"]["flash_bytes"]


def test_who_built_it(section: dict) -> None:
    assert section["contiki"]["release"] == "release/v5.0"
    assert any(p.startswith("contiki-ng 9f80681d3d2fb1299f089cdcf3c25bfcb228fce8")
               for p in section["contiki"]["pins"])
    assert section["compiler"].startswith("arm-none-eabi-gcc")


def test_the_xmpp_clients_modules_add_up_to_its_library(section: dict) -> None:
    xmpp = section["firmware"]["xmpp-sensor"]
    modules = xmpp["xmpp_modules"]
    assert list(modules)[0] == "core"
    assert set(modules) <= set(xmpp_source_modules(MAKEFILE_XMPP).values())
    for column in ("rom", "ram", "text", "data", "bss"):
        assert sum(m[column] for m in modules.values()) == xmpp["modules"][XMPP_LIB_MODULE][
            column], column
    assert "os/net/app-layer/coap" in section["firmware"]["coap-sensor"]["modules"]
    assert "xmpp_modules" not in section["firmware"]["coap-sensor"]


def test_the_peak_stack_chain_says_what_it_cannot_see(section: dict) -> None:
    for app, entry in section["firmware"].items():
        peak = entry["stack"]["peak"]
        assert peak["bytes"] > 0 and peak["path"][0] == peak["function"], app
        assert "pointers" in entry["stack"]["note"]


def test_the_makefiles_modules_by_source() -> None:
    owner = xmpp_source_modules(MAKEFILE_XMPP)
    assert owner["xmpp.c"] == "core" and owner["xmpp-sasl-plain.c"] == "plain"
    assert owner["xmpp-sha1.c"] == "scram" and owner["xmpp-iq.c"] == "iq"


def test_a_module_left_out_is_not_in_the_breakdown(section: dict) -> None:
    """XMPP_MODULES="plain presence message": what the xmpp-message variant needs."""
    image = build_firmware("xmpp-sensor", "cc2538dk",
                           BuildOptions(make={"XMPP_MODULES": "plain presence message"}))
    small = contiki_memory({"xmpp-sensor": image})["firmware"]["xmpp-sensor"]
    assert set(small["xmpp_modules"]) == {"core", "plain", "presence", "message"}
    full = section["firmware"]["xmpp-sensor"]
    left_out = sum(m["rom"] for k, m in full["xmpp_modules"].items()
                   if k not in small["xmpp_modules"])
    assert small["rom"] < full["rom"] and left_out > 0
    assert (small["text"], small["data"], small["bss"]) == berkeley(small["elf"])


def test_an_app_that_did_not_build_keeps_its_reason(tmp_path: Path) -> None:
    section = contiki_memory({"router": "memory: router: cc2538dk build failed: x"})
    assert section["firmware"]["router"] == {"error": "memory: router: cc2538dk build failed: x"}
    assert section["rom_class_bytes"] == 128 * 1024
