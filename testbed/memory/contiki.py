"""The results.json `memory.contiki` section: the C node apps cross-built for a real board.

Why a board image and not the run's: the firmware the emulated air runs (TARGET=medium) is a
Linux process, 64-bit, with the host's libc; its size says nothing about a sensor node. The
same sources built with arm-none-eabi-gcc for Contiki-NG's cc2538dk (Cortex-M3, 512 KB
flash, 32 KB RAM, the 802.15.4 radio on chip) answer the seed's stage 1 question: does the
XMPP client fit a 128 KB-ROM class node, and what does it cost next to the CoAP engine?

    {target, board: {flash_bytes, ram_bytes}, rom_class_bytes, contiki: {release, pins},
     compiler, firmware: {app: {rom, ram, text, data, bss, fits_rom_class, sources_hash,
                                modules: {module: {rom, ram, text, data, bss}},
                                xmpp_modules: {core|plain|scram|...: {...}} (xmpp-sensor),
                                stack: {peak, main, note} | null}
                          | {error}}}

What it is not: the breakdown (modules.py does it from the ELF and the linker map) or the
build (testbed.contiki.build, cached by content, called by the experiment: a run re-uses the
images of the last one; this layer may not import it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from testbed.memory.modules import memory_of

#: the key of results.json's memory section that holds this (the other keys are apps)
SECTION = "contiki"
#: the C apps a comparison runs. The PAN's border-router and router do not build for
#: cc2538dk from Contiki-NG 5.0 as they are (its simple-energest.c uses PRIu64 without
#: <inttypes.h> on arm-none-eabi), so they are not in the section.
APPS: tuple[str, ...] = ("coap-sensor", "xmpp-sensor")
BOARD_TARGET = "cc2538dk"
#: cc2538dk's CC2538SF53: 512 KB flash, 32 KB SRAM (TI SWRS096); zoul's CC2538 likewise
BOARDS = {"cc2538dk": {"flash_bytes": 512 * 1024, "ram_bytes": 32 * 1024},
          "zoul": {"flash_bytes": 512 * 1024, "ram_bytes": 32 * 1024}}
#: the seed's constrained node class: 128 KB of ROM (the paper's Contiki nodes)
ROM_CLASS_BYTES = 128 * 1024
XMPP_CORE = "core"
XMPP_LIB_MODULE = "nodes/contiki/lib/xmpp"


class BoardImage(Protocol):
    """A firmware build (testbed.contiki.build.Firmware) as this module reads it."""

    elf: Path
    map: Path
    objects: Path
    source: Path
    contiki: Path
    shared: Path
    sources_hash: str


def contiki_memory(images: Mapping[str, BoardImage | str], *, target: str = BOARD_TARGET,
                   compiler: str | None = None, release: str | None = None,
                   pins: Sequence[str] | None = None) -> dict[str, Any]:
    """The section for the apps' images built for `target` (a string: why an app did not
    build, kept as its {"error"}); compiler, release and pins say what built them."""
    firmware: dict[str, Any] = {}
    for app, image in images.items():
        if isinstance(image, str):
            firmware[app] = {"error": image}
            continue
        try:
            firmware[app] = firmware_figures(image)
        except (OSError, ValueError) as exc:  # a map or ELF that does not read
            firmware[app] = {"error": f"memory: {app}: {type(exc).__name__}: {exc}"}
    return {
        "target": target,
        "board": BOARDS.get(target),
        "rom_class_bytes": ROM_CLASS_BYTES,
        "contiki": {"release": release, "pins": list(pins) if pins else None},
        "compiler": compiler,
        "firmware": firmware,
    }


def firmware_figures(image: BoardImage) -> dict[str, Any]:
    """One image's entry: totals, modules, the XMPP client's modules, the deepest stack chain."""
    memory = memory_of(image)
    entry: dict[str, Any] = {k: memory[k] for k in ("rom", "ram", "text", "data", "bss")}
    entry["fits_rom_class"] = memory["rom"] <= ROM_CLASS_BYTES
    entry["elf"] = str(image.elf)
    entry["sources_hash"] = image.sources_hash
    entry["modules"] = memory["modules"]
    xmpp = xmpp_modules(memory["objects"], image.shared / "lib" / "xmpp" / "Makefile.xmpp")
    if xmpp:
        entry["xmpp_modules"] = xmpp
    stack = memory.get("stack")
    entry["stack"] = None if not stack else {
        "peak": stack["chains"][0] if stack["chains"] else None,
        "main": stack["main"], "note": stack["note"]}
    return entry


# --- the XMPP client's compile-time modules ------------------------------------------------

_CONDITION = re.compile(r"ifneq\s*\(\$\(filter\s+(\w+),\s*\$\(XMPP_MODULES\)\),\s*\)")
_SOURCES = re.compile(r"PROJECT_SOURCEFILES\s*\+=\s*(.+)")


def xmpp_source_modules(makefile: Path) -> dict[str, str]:
    """Source file -> XMPP module, read from the library's Makefile.xmpp: a file added inside
    `ifneq ($(filter <module>,$(XMPP_MODULES)),)` belongs to <module>, one added outside any
    condition to the core. Read, not restated, so a new module needs no change here."""
    owner: dict[str, str] = {}
    module = XMPP_CORE
    for line in makefile.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if m := _CONDITION.match(line):
            module = m[1]
        elif line == "endif":
            module = XMPP_CORE
        elif m := _SOURCES.match(line):
            owner.update({name: module for name in m[1].split()})
    return owner


def xmpp_modules(objects: Mapping[str, Mapping[str, Any]], makefile: Path
                 ) -> dict[str, dict[str, int]]:
    """The XMPP library's share of the image by its compile-time module (core first)."""
    if not makefile.is_file():
        return {}
    owner = xmpp_source_modules(makefile)
    out: dict[str, dict[str, int]] = {}
    for label, figures in objects.items():
        if figures.get("module") != XMPP_LIB_MODULE:
            continue
        module = owner.get(Path(label).name, "(other)")
        into = out.setdefault(module, {k: 0 for k in ("rom", "ram", "text", "data", "bss")})
        for key in into:
            into[key] += int(figures.get(key, 0))
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != XMPP_CORE, -kv[1]["rom"])))
