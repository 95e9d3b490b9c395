"""JSON-lines files the testbed's processes write: sinks' deliveries, nodes' events.

One reader for all of them: a file that does not exist yet holds nothing, and a line that is
not a JSON object (the half line a killed process left, a stray print) is skipped, never an
error, so a run interrupted mid-write keeps everything before it.
"""

from __future__ import annotations

import json
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
