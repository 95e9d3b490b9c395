"""A variant directory's readings timeline: node names to short addresses, readings sorted."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from testbed.analysis.timeline import load_timeline
from testbed.errors import BadInput


def test_readings_by_short_address_sorted_once(tmp_path: Path) -> None:
    (tmp_path / "medium-spec.json").write_text(json.dumps(
        {"prefix": "fd00:1::/64", "nodes": [{"name": "s1", "short": 2}, {"name": "s2",
                                                                          "short": 7}]}))
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = [{"event": "phase", "name": "setup", "start": 1.0, "end": 2.0, "t": 2.0},
             {"event": "reading", "seq": 2, "sensor": "temperature", "t": 5.0},
             {"event": "reading", "seq": 1, "sensor": "temperature", "t": 3.0},
             {"event": "reading", "seq": 1, "sensor": "humidity", "t": 3.0}]
    (logs / "s1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"event": "re')
    (logs / "s2.jsonl").write_text('{"event": "ready", "t": 1.0}\n')
    (logs / "medium.jsonl").write_text(json.dumps(lines[1]) + "\n")  # not a node: ignored
    prefix, timeline = load_timeline(tmp_path)
    assert prefix == ipaddress.IPv6Network("fd00:1::/64")
    assert timeline == {2: [(3.0, 1), (5.0, 2)]}


def test_a_directory_without_a_medium_spec_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="medium-spec.json: not found"):
        load_timeline(tmp_path)
    (tmp_path / "medium-spec.json").write_text("{\"nodes\": [{\"name\": 1}]}")
    with pytest.raises(BadInput, match="not a medium spec"):
        load_timeline(tmp_path)
