"""The results.json `memory` section: one entry per protocol app.

    {app: {bytecode_bytes, source_bytes, modules: {module: {source_bytes, bytecode_bytes}},
           heap: {platform, heap_total, before, after_import, after_encode, peak, fits, error,
                  ...} | {platform, fits: null, error: "<why not measured, with the fix>"},
           elf: {rom, ram, text, data, bss} | null}}

What it is: the composition of bytecode.py, heap.py and elf.py. What it is not: a board
backend: `board` is anything with `missing()`, `open()` yielding a serial port and a
`platform` name (testbed/backends/qemu.py QemuMicrobit, serial_board.py SerialBoard).

Heap figures of an emulated board are a pure function of its firmware image, the apps' files
and the measuring code: with `cache` (a folder), a board that names its `firmware` file keeps
them under the hash of all three and a run with the same inputs reads them back (marked
`"cached": true`) instead of booting QEMU again, 9 s saved per run. A real board (no
`firmware` path) is always measured.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from testbed.firmware import nodes_dir
from testbed.errors import TestbedError
from testbed.memory.bytecode import app_bytecode
from testbed.memory.heap import CODECS, measure_heap
from testbed.backends.raw_repl import RawRepl

NODES_DIR = nodes_dir()


class Board(Protocol):
    platform: str

    def missing(self) -> str | None: ...
    def open(self) -> AbstractContextManager[str]: ...


def memory_section(board: Board | None, *, nodes_dir: Path = NODES_DIR,
                   apps: tuple[str, ...] = tuple(CODECS),
                   cache: Path | None = None) -> dict[str, Any]:
    """Bytecode for every app; heap on `board` (one boot for all apps, or the cache's
    figures for the same inputs). A MicroPython app has no ELF: the C firmware's ROM/RAM
    from its ELF are memory.contiki.firmware (memory/contiki.py)."""
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
    section_127 = heap_needs_127(nodes_dir, apps, cache=cache)
    for app in apps:
        section[app]["heap_127"] = section_127[app]
    key = heap_cache_key(board, nodes_dir, apps) if cache is not None else None
    cached = _read_cache(cache, key)
    if cached is not None and all(isinstance(cached.get(app), dict) for app in apps):
        for app in apps:
            section[app]["heap"] = {**cached[app], "cached": True}
        return section
    heaps = dict(_heaps(board, nodes_dir, apps))
    for app, heap in heaps.items():
        section[app]["heap"] = heap
    if key is not None and all("heap_total" in heap for heap in heaps.values()):
        _write_cache(cache, key, heaps)  # measured on the board, not a reason why not
    return section


def heap_needs_127(nodes_dir: Path, apps: tuple[str, ...], *, cache: Path | None = None
                   ) -> dict[str, dict[str, Any]]:
    """Each app's codec on MicroPython 1.27 (memory/wasm.py: the smallest heap, live bytes),
    or the reason it could not run there; about a second for both apps, then cached by the
    apps' codec files, the measuring code and the pinned package."""
    from testbed.memory.wasm import PACKAGE, PLATFORM, TOOLS, WasmError, heap_need, micropython_127

    digest = hashlib.sha256(PLATFORM.encode())
    files = [Path(__file__).with_name("wasm.py"), TOOLS / "repl.mjs", TOOLS / "package-lock.json"]
    files += [nodes_dir / app / f"{m}.py" for app in apps for m in CODECS[app].modules]
    key = _files_digest(digest, files) if PACKAGE.is_dir() else None
    cached = _read_cache(cache, key)
    if cached is not None and all(isinstance(cached.get(app), dict) for app in apps):
        return {app: cached[app] for app in apps}
    try:
        with micropython_127() as mp:
            needs = {app: heap_need(mp, nodes_dir / app, CODECS[app]).to_json() for app in apps}
    except (WasmError, OSError, ValueError) as exc:
        return {app: {"platform": PLATFORM, "error": str(exc)} for app in apps}
    if key is not None and cache is not None:
        _write_cache(cache, key, needs)
    return needs


def heap_cache_key(board: Board | None, nodes_dir: Path, apps: tuple[str, ...]) -> str | None:
    """sha256 over the board's platform and firmware image, every file of the apps and the
    measuring code; None when the board names no firmware file (a real board)."""
    firmware = getattr(board, "firmware", None)
    if board is None or firmware is None or not Path(firmware).is_file():
        return None
    digest = hashlib.sha256(f"{board.platform}\0{getattr(board, 'qemu', '')}\0".encode())
    digest.update(hashlib.sha256(Path(firmware).read_bytes()).digest())
    backends = Path(__file__).parents[1] / "backends"
    code = [Path(__file__), Path(__file__).with_name("heap.py"),
            Path(__file__).with_name("bytecode.py"),  # and how the board is run and spoken to
            backends / "qemu.py", backends / "raw_repl.py"]
    for app in apps:
        code += sorted(p for p in (nodes_dir / app).glob("*.py") if p.is_file())
    return _files_digest(digest, code)


def _files_digest(digest: Any, paths: list[Path]) -> str:
    """`digest` fed each file's name and sha256 (a missing one as "-"): a cache key that
    changes when any of them does."""
    for path in paths:
        digest.update(f"{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"-")
    return digest.hexdigest()


def _read_cache(cache: Path | None, key: str | None) -> dict[str, Any] | None:
    if cache is None or key is None:
        return None
    try:
        data = json.loads((cache / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_cache(cache: Path | None, key: str, heaps: Mapping[str, Any]) -> None:
    assert cache is not None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f".{key}.{os.getpid()}"
        partial.write_text(json.dumps(heaps, sort_keys=True))
        partial.replace(cache / f"{key}.json")  # whole or not at all, for concurrent runs
    except OSError:
        pass  # a read-only checkout measures every time


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
