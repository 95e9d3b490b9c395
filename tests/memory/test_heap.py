"""Heap figures of the node codecs on MicroPython in QEMU's micro:bit (issue 04 acceptance)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.backends.qemu import PLATFORM, QemuMicrobit
from testbed.memory.heap import CODECS, AppCodec, cpython_wire, measure_heap, strip_source
from testbed.backends.raw_repl import RawRepl
from testbed.memory.summary import memory_section

NODES = Path(__file__).resolve().parents[2] / "nodes"
MODULES = sorted(NODES.glob("*/*.py"))


def _without_docstrings(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.Expr(ast.Constant(0))
    return ast.dump(tree)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_stripping_keeps_the_code(path: Path) -> None:
    text = path.read_text()
    stripped = strip_source(text)
    assert "#" not in "".join(line for line in stripped.splitlines() if "'" not in line
                              and '"' not in line)
    assert len(stripped) < len(text)
    assert ast.dump(ast.parse(stripped)) == _without_docstrings(ast.parse(text))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["x", "y_1", "name"]), st.integers(-5, 99),
                          st.text(alphabet="ab #'\"", max_size=6)), min_size=1, max_size=6))
def test_stripping_never_changes_statements(assignments: list[tuple[str, int, str]]) -> None:
    text = '"""doc"""\n' + "".join(f"{n} = {v}  # {c!r}\ns_{n} = {c!r}\n\n"
                                   for n, v, c in assignments)
    expected: dict[str, object] = {}
    got: dict[str, object] = {}
    exec(text, expected)  # noqa: S102 - generated above from integers and literals
    exec(strip_source(text), got)  # noqa: S102
    assert {k: v for k, v in got.items() if k != "__builtins__"} == \
        {k: v for k, v in expected.items() if k not in ("__builtins__", "__doc__")}


def test_a_codec_that_fits_gives_every_figure(microbit_port: str, tmp_path: Path) -> None:
    """A small codec fits the micro:bit: every stage measured, its bytes equal CPython's."""
    (tmp_path / "tiny.py").write_text(
        "import struct\n\n\ndef encode(seq, value):\n"
        "    \"\"\"seq and value, network order.\"\"\"\n"
        "    return struct.pack('>Hf', seq, value) + bytes(range(40))  # and some padding\n")
    codec = AppCodec(app="tiny", modules=("tiny",), encode="wire = tiny.encode(3, 22.5)")
    with RawRepl(microbit_port) as repl:
        figures = measure_heap(repl, tmp_path, codec, platform=PLATFORM)
        assert "tiny.py" not in repl.exec("import os\nprint(os.listdir())")  # cleaned up
    assert figures.fits is True and figures.error is None
    assert figures.heap_total is not None and 8000 < figures.heap_total < 16384
    assert figures.before is not None and figures.after_import is not None
    assert figures.after_encode is not None
    assert 0 < figures.before < figures.after_import < figures.after_encode < figures.heap_total
    assert figures.peak is not None and figures.peak >= figures.after_encode
    assert figures.wire_matches_cpython is True and figures.wire_bytes == 46
    assert figures.source_bytes_sent < len((tmp_path / "tiny.py").read_text())


def test_a_recursion_too_deep_is_a_finding_not_a_crash(microbit_port: str,
                                                       tmp_path: Path) -> None:
    """A module that imports, but whose encoder recurses deeper than the micro:bit's stack
    allows (a recursive CBOR encoder on a nested pack did, before reading.py)."""
    (tmp_path / "deep.py").write_text("def nest(n):\n    return [nest(n - 1)] if n else 1\n")
    codec = AppCodec(app="deep", modules=("deep",), encode="wire = repr(deep.nest(500))")
    with RawRepl(microbit_port) as repl:
        figures = measure_heap(repl, tmp_path, codec, platform=PLATFORM)
    assert figures.after_import is not None and figures.after_import > figures.before  # type: ignore[operator]
    assert figures.fits is False
    assert figures.error == "encode: RuntimeError: maximum recursion depth exceeded"


def test_coap_and_xmpp_encoders_on_the_microbit() -> None:
    """Acceptance: boot MicroPython in QEMU, deploy both encoders over pyserial, report heap."""
    board = QemuMicrobit()
    if board.missing():
        pytest.skip(board.missing())
    section = memory_section(board)
    for app in CODECS:
        heap = section[app]["heap"]
        print(app, heap)
        assert heap["platform"] == PLATFORM
        assert isinstance(heap["fits"], bool)
        assert heap["heap_total"] > 8000 and 0 < heap["before"] < heap["heap_total"]
        if heap["fits"]:
            assert heap["before"] < heap["after_import"] <= heap["after_encode"]
            assert heap["wire_matches_cpython"] is True
        else:  # a finding: which stage, which module, which exception
            assert heap["error"].startswith(("compile+import ", "encode:"))
            assert any(e in heap["error"] for e in ("MemoryError", "SyntaxError",
                                                    "AttributeError", "RuntimeError"))
            if heap["error"].startswith("compile+import "):
                # every module before the one that failed was measured, in order
                failed = heap["error"].split()[1].rstrip(":")
                modules = list(CODECS[app].modules)
                assert list(heap["after_import_module"]) == modules[:modules.index(failed)]
        for module, alloc in heap["after_import_module"].items():
            assert module in CODECS[app].modules and alloc > heap["before"]


@pytest.mark.parametrize("app", sorted(CODECS))
def test_the_encode_statement_runs_on_cpython(app: str) -> None:
    wire = cpython_wire(NODES / app, CODECS[app])
    assert len(wire) > 20
