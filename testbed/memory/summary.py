"""The results.json `memory` section: one entry per protocol app.

    {app: {bytecode_bytes, source_bytes, modules: {module: {source_bytes, bytecode_bytes}},
           heap: {platform, heap_total, before, after_import, after_encode, peak, fits, error,
                  ...} | {platform, fits: null, error: "<why not measured, with the fix>"},
           elf: {rom, ram, text, data, bss} | null}}

What it is: the composition of bytecode.py, heap.py and elf.py. What it is not: a board
backend: `board` is anything with `missing()`, `open()` yielding a serial port and a
`platform` name (testbed/backends/qemu.py QemuMicrobit, serial_board.py SerialBoard).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from testbed.firmware import nodes_dir
from testbed.errors import TestbedError
from testbed.memory.bytecode import app_bytecode
from testbed.memory.elf import elf_sizes
from testbed.memory.heap import CODECS, measure_heap
from testbed.backends.raw_repl import RawRepl

NODES_DIR = nodes_dir()


class Board(Protocol):
    platform: str

    def missing(self) -> str | None: ...
    def open(self) -> AbstractContextManager[str]: ...


def memory_section(board: Board | None, *, nodes_dir: Path = NODES_DIR,
                   apps: tuple[str, ...] = tuple(CODECS),
                   elf: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """Bytecode for every app; heap on `board` (one boot for all apps); ELF sizes when given."""
    section: dict[str, Any] = {}
    for app in apps:
        try:
            code = app_bytecode(nodes_dir / app)
            section[app] = {
                "bytecode_bytes": code.bytecode_bytes, "source_bytes": code.source_bytes,
                "modules": {m: asdict(s) for m, s in code.modules.items()},
            }
        except TestbedError as exc:
            section[app] = {"bytecode_bytes": None, "source_bytes": None, "modules": {},
                            "bytecode_error": str(exc)}
        section[app]["elf"] = elf_sizes(elf[app]).to_json() if elf and app in elf else None
    for app, heap in _heaps(board, nodes_dir, apps):
        section[app]["heap"] = heap
    return section


def _heaps(board: Board | None, nodes_dir: Path,
           apps: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    platform = getattr(board, "platform", None)
    reason = "no board given" if board is None else board.missing()
    if reason:
        for app in apps:
            yield app, {"platform": platform, "fits": None, "error": f"memory: {reason}"}
        return
    assert board is not None
    done: set[str] = set()
    try:
        with board.open() as port, RawRepl(port) as repl:
            for app in apps:
                figures = measure_heap(repl, nodes_dir / app, CODECS[app], platform=board.platform)
                done.add(app)
                yield app, asdict(figures)
    except TestbedError as exc:  # the board itself failed: say so per app not yet measured
        for app in apps:
            if app not in done:
                yield app, {"platform": platform, "fits": None, "error": f"memory: {exc}"}
