"""Every public function of testbed/ has a caller outside the tests, or a reason in
benchmarks/callers.py's JUSTIFIED list (issue 11: no figure or function that only a test uses)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "callers.py"


def load():
    spec = importlib.util.spec_from_file_location("callers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_public_function_only_tests_call_without_a_reason() -> None:
    callers = load()
    unused = callers.test_only()
    assert set(unused) - set(callers.JUSTIFIED) == set(), {
        n: w for n, w in unused.items() if n not in callers.JUSTIFIED}
    # an entry that found a caller or went: out of the list too
    assert set(callers.JUSTIFIED) - set(unused) == set()


def test_the_scan_finds_a_function_no_one_calls(tmp_path: Path, monkeypatch) -> None:
    """The oracle itself: a new module with one called and one uncalled function."""
    callers = load()
    (tmp_path / "testbed").mkdir()
    (tmp_path / "testbed" / "m.py").write_text(
        "def used():\n    return 1\n\n\ndef orphan():\n    return used()\n\n\n"
        "class C:\n    @property\n    def shown(self):\n        return 2\n\n"
        "    @staticmethod\n    def hook():\n        return 3\n")
    (tmp_path / "testbed" / "cli.py").write_text("from testbed.m import C\nC().shown\n")
    (tmp_path / "Makefile").write_text("all:\n")
    monkeypatch.setattr(callers, "ROOT", tmp_path)
    assert set(callers.test_only()) == {"orphan", "hook"}
