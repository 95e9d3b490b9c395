"""ROM and RAM of a linked firmware by module: the ELF's totals shared out with the linker map.

What it is: every byte of every loaded section of the ELF (elf.py) given to the object file
that put it there (linkmap.py), each object to its source (Contiki's obj/.deps/<source>.d) and
each source to a module of the field: os/net/app-layer/coap, os/net/ipv6, os/net/mac/csma,
os/net/routing/rpl-lite, arch/cpu/cc2538, the app's own files ("app"), nodes/contiki/lib/xmpp,
toolchain/libc ... The modules add up to the ELF's text, data and bss exactly: alignment bytes
are a module of their own ("(alignment)"). With .su/.ci files, the largest stack frames and
call chains (stack.py).
What it is not: a per-symbol profile (arm-none-eabi-nm --size-sort is that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


from testbed.memory.elf import allocated_sections, elf_sizes, function_symbols
from testbed.memory.linkmap import InputSection, read_map
from testbed.memory.stack import (STACK_LIMITS, Chain, call_chains, read_callgraph,
                                   stack_frames)

ALIGNMENT = "(alignment)"
LINKER = "(linker)"
OTHER = "(other)"
NOT_IN_MAP = "(not in map)"
APP = "app"


@dataclass
class Columns:
    """Berkeley columns of a part of the image."""

    text: int = 0
    data: int = 0
    bss: int = 0

    def add(self, kind: str, size: int) -> None:
        setattr(self, kind, getattr(self, kind) + size)

    def to_json(self) -> dict[str, int]:
        return {"rom": self.text + self.data, "ram": self.data + self.bss, "text": self.text,
                "data": self.data, "bss": self.bss}


@dataclass(frozen=True, slots=True)
class Roots:
    """Where sources live, to name their modules: the app's folder, the Contiki-NG tree, and
    the project's nodes/contiki/."""

    app: Path
    contiki: Path
    nodes: Path


class Built(Protocol):
    """A firmware build (testbed.contiki.build.Firmware): where its parts are."""

    elf: Path
    map: Path
    objects: Path
    source: Path
    contiki: Path
    shared: Path


def memory_of(firmware: Built, *, largest: int = 10) -> dict[str, Any]:
    """`firmware_memory` of a build: its ELF, map and objects, its app and tree as roots."""
    roots = Roots(app=firmware.source, contiki=firmware.contiki, nodes=firmware.shared)
    return firmware_memory(firmware.elf, firmware.map, roots=roots, objects=firmware.objects,
                           largest_frames=largest)


def object_sources(objects: Path) -> dict[str, Path]:
    """Object file name -> its source, from the dependency files Contiki's make writes
    (obj/.deps/<source>.d, first rule `obj/<name>.o: <source> <headers...>`)."""
    sources: dict[str, Path] = {}
    deps = Path(objects) / ".deps"
    for path in sorted(deps.glob("*.d")) if deps.is_dir() else []:
        words = path.read_text(errors="replace").replace("\\\n", " ").split()
        if len(words) >= 2 and words[0].endswith(".o:"):
            sources[Path(words[0][:-1]).name] = Path(words[1])
    return sources


def module_of_source(source: Path, roots: Roots) -> tuple[str, str]:
    """(module, source path relative to its root) for a source file."""
    if not source.is_absolute():
        source = roots.app / source  # make ran in the app's folder
    source = Path(*_normal(source.parts))
    for root, label in ((roots.app, APP), (roots.nodes, "nodes/contiki"),
                        (roots.contiki, None)):
        try:
            rel = source.relative_to(root)
        except ValueError:
            continue
        parts = rel.parts
        if label == APP:
            return APP, f"{APP}/{rel}"
        if label is not None:  # nodes/contiki/<common|lib/<x>|platform/<x>>
            depth = 2 if parts[0] in ("lib", "platform") and len(parts) > 2 else 1
            return "/".join((label, *parts[:depth])), f"{label}/{rel}"
        return _contiki_module(parts), str(rel)
    return OTHER, str(source)


def _normal(parts: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "..":
            out.pop()
        elif part != ".":
            out.append(part)
    return out


def _contiki_module(parts: tuple[str, ...]) -> str:
    """os/net/<layer>/<sub>/x.c -> os/net/<layer>/<sub>; os/net/<layer>/x.c -> os/net/<layer>;
    os/<area>/<sub>/... for services and storage; os/<area> otherwise; arch/<cpu|platform>/<x>."""
    folders = parts[:-1]
    if folders[:2] == ("os", "net"):
        return "/".join(folders[:4]) if len(folders) >= 3 else "os/net"
    if folders[:1] == ("os",) and len(folders) >= 2:
        depth = 3 if folders[1] in ("services", "storage") else 2
        return "/".join(folders[:depth])
    if folders[:1] == ("arch",) and len(folders) >= 2:
        return "/".join(folders[:3])
    return "/".join(folders[:2]) or parts[0]


def module_of_input(item: InputSection, sources: Mapping[str, Path],
                    roots: Roots) -> tuple[str, str]:
    """(module, object label) for an input section of the map."""
    if item.is_fill:
        return ALIGNMENT, ALIGNMENT
    if item.file == "linker stubs":
        return LINKER, LINKER
    path = Path(item.file)
    if item.member is not None:  # a library's member: newlib, libgcc, a Contiki .a
        stem = path.stem.removeprefix("lib") if path.name.startswith("lib") else path.stem
        return f"toolchain/lib{stem}", f"{path.name}({item.member})"
    if path.name in sources:
        return module_of_source(sources[path.name], roots)
    if str(path).startswith("/usr/"):
        return "toolchain/startfiles", path.name
    return OTHER, path.name


def firmware_memory(elf: str | Path, map_path: str | Path, *, roots: Roots,
                    objects: Path | None = None, largest_frames: int = 10) -> dict[str, Any]:
    """ROM/RAM of the image and its share by module and by object file, for results.json:

        {rom, ram, text, data, bss,
         modules: {module: {rom, ram, text, data, bss}},   # largest ROM first
         objects: {label: {module, rom, ram, text, data, bss}},
         stack: {frames: [{function, bytes, qualifier, module, source}],   # own frames
                 chains: [{function, bytes, path, through_pointer, recursive, unknown,
                           module, source}],                              # direct calls
                 main: {...} | null, note} | null}

    `objects`: the folder of the .o files (its .deps name their sources; its .su files give
    the stack frames); without it, objects are named by file and modules are "(other)"."""
    elf, map_path = Path(elf), Path(map_path)
    linkmap = read_map(map_path)
    sources = object_sources(objects) if objects else {}
    placed = {s.name: s for s in linkmap.sections}
    modules: dict[str, Columns] = {}
    labels: dict[str, tuple[str, Columns]] = {}
    for section in allocated_sections(elf):
        if section.size == 0:
            continue
        out = placed.get(section.name)
        if out is None:
            modules.setdefault(NOT_IN_MAP, Columns()).add(section.kind, section.size)
            continue
        for item, size in out.owned():
            module, label = module_of_input(item, sources, roots)
            modules.setdefault(module, Columns()).add(section.kind, size)
            labels.setdefault(label, (module, Columns()))[1].add(section.kind, size)
        if out.unaccounted:
            modules.setdefault(ALIGNMENT, Columns()).add(section.kind, out.unaccounted)
            labels.setdefault(ALIGNMENT, (ALIGNMENT, Columns()))[1].add(section.kind,
                                                                        out.unaccounted)
    result: dict[str, Any] = elf_sizes(elf).to_json()
    result["modules"] = {m: c.to_json() for m, c in
                         sorted(modules.items(), key=lambda kv: (-kv[1].text - kv[1].data,
                                                                 kv[0]))}
    result["objects"] = {label: {"module": m, **c.to_json()} for label, (m, c) in
                         sorted(labels.items())}
    result["stack"] = _stack(elf, objects, roots, largest_frames) if objects else None
    return result


def _stack(elf: Path, objects: Path, roots: Roots, count: int) -> dict[str, Any] | None:
    functions = function_symbols(elf)
    frames = stack_frames(objects, functions=functions)
    if not frames:
        return None
    sources = {f.function: f for f in frames}

    def where(function: str) -> dict[str, str]:
        frame = sources.get(function)
        if frame is None:
            return {"module": OTHER, "source": ""}
        module, label = module_of_source(Path(frame.source), roots)
        return {"module": module, "source": f"{label}:{frame.line}"}

    chains = [c for c in call_chains(read_callgraph(objects)).values()
              if c.function in functions]
    chains.sort(key=lambda c: (-c.bytes, c.function))
    main = next((c for c in chains if c.function == "main"), None)
    return {
        "frames": [{"function": f.function, "bytes": f.bytes, "qualifier": f.qualifier,
                    **where(f.function)} for f in frames[:count]],
        "chains": [_chain(c, where) for c in chains[:count]],
        "main": _chain(main, where) if main else None,
        "note": STACK_LIMITS,
    }


def _chain(chain: Chain, where) -> dict[str, Any]:
    return {"function": chain.function, "bytes": chain.bytes, "path": list(chain.path),
            "through_pointer": chain.through_pointer, "recursive": chain.recursive,
            "unknown": list(chain.unknown), **where(chain.function)}
