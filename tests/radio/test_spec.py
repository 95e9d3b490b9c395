"""The medium's spec file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.errors import BadInput
from testbed.radio.spec import load_spec


def spec_dict(tmp_path: Path) -> dict:
    return {
        "run_id": "abc123", "channel": 26, "pan_id": 0xABCD, "addressing": "short",
        "prefix": "fd00::/64", "seed": 1, "queue": 16,
        "nodes": [{"name": "br", "short": 1, "netns": "tb-abc123-br", "tap": "wpan0"},
                  {"name": "n1", "short": 2, "netns": "tb-abc123-n1", "tap": "wpan0"}],
        "links": [{"a": "br", "b": "n1", "prr": 0.9}],
        "capture": str(tmp_path / "c.pcap"), "activity": str(tmp_path / "r.csv"),
        "stats": str(tmp_path / "m.json"),
    }


def test_contract_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec_dict(tmp_path)))
    spec = load_spec(path)
    assert spec.short_of("n1") == 2 and spec.reassembly_timeout_s == 60.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"links": [{"a": "br", "b": "n9"}]}, "unknown node 'n9'"),
        ({"queue": 0}, r"queue: Input should be greater than or equal to 1"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_spec_names_file_and_key(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec_dict(tmp_path) | change))
    with pytest.raises(BadInput, match=f"spec.json: .*{message}"):
        load_spec(path)
