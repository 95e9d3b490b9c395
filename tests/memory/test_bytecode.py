"""mpy-cross sizes of the node apps."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.memory.bytecode import BytecodeError, app_bytecode, compile_module

NODES = Path(__file__).resolve().parents[2] / "nodes"


@pytest.mark.parametrize("app", ["coap-sensor", "xmpp-sensor"])
def test_every_module_compiles_smaller_than_its_source(app: str) -> None:
    sizes = app_bytecode(NODES / app)
    assert set(sizes.modules) == {p.stem for p in (NODES / app).glob("*.py")}
    for module, size in sizes.modules.items():
        assert 0 < size.bytecode_bytes < size.source_bytes, module
        assert size.source_bytes == (NODES / app / f"{module}.py").stat().st_size
    assert sizes.bytecode_bytes == sum(m.bytecode_bytes for m in sizes.modules.values())
    assert 0 < sizes.bytecode_bytes < sizes.source_bytes


def test_sizes_do_not_depend_on_where_the_repo_is(tmp_path: Path) -> None:
    source = NODES / "coap-sensor" / "reading.py"
    copy = tmp_path / "deeper" / "still deeper" / "reading.py"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(source.read_bytes())
    assert compile_module(copy) == compile_module(source)


def test_a_syntax_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    with pytest.raises(BytecodeError, match=r"bad\.py: mpy-cross failed: (?s:.*)SyntaxError"):
        compile_module(bad)
