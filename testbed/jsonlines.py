"""JSON files of a run: the JSON-lines the testbed's processes write (sinks' deliveries, nodes'
events), and the one way JSON documents (results.json, run registry entries) are written.

One reader for the JSON lines: a file that does not exist yet holds nothing, and a line that is
not a JSON object (the half line a killed process left, a stray print) is skipped, never an
error, so a run interrupted mid-write keeps everything before it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON object in `path`, one per line, in file order."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            found.append(data)
    return found


def write_json_atomic(path: Path, data: Any) -> Path:
    """`data` as indented JSON at `path`, atomically: a reader (another process, a rerun of
    the report) never sees half a file. OSError is the caller's to name."""
    path = Path(path)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
