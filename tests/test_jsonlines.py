"""The one JSON-lines reader and the one atomic JSON writer (testbed/jsonlines.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.jsonlines import read_json_lines, write_json_atomic


def test_the_reader_keeps_objects_and_skips_what_a_killed_writer_left(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert read_json_lines(path) == []  # not written yet: nothing
    path.write_text('{"seq": 1}\n[1, 2]\nREADY\n{"seq": 2}\n{"seq": 3, "half')
    assert read_json_lines(path) == [{"seq": 1}, {"seq": 2}]


def test_the_writer_replaces_the_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("old")
    assert write_json_atomic(path, {"variants": {"coap-get": 1}}) == path
    assert json.loads(path.read_text()) == {"variants": {"coap-get": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"kept": true}')
    with pytest.raises(TypeError):
        write_json_atomic(path, {"not json": object()})
    assert json.loads(path.read_text()) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
