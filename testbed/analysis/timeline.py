"""The readings timeline of a variant directory: each sensor's own `reading` events by address.

What it is: `load_timeline(directory)` reads <directory>/medium-spec.json (node name -> IEEE
802.15.4 short address, the PAN prefix) and <directory>/logs/<node>.jsonl (the node's events:
{"event": "reading", "seq": n, "t": epoch}, on the capture's clock) and returns the prefix and
short address -> sorted (t, seq), what account.analyze attributes TLS records with. What it is
not: the runner's event reader (testbed.experiment.nodes); lines that are not JSON objects (a
crash's half line) are skipped like there.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from testbed.errors import BadInput

MEDIUM_SPEC = "medium-spec.json"


def load_timeline(directory: Path) -> tuple[ipaddress.IPv6Network,
                                            dict[int, list[tuple[float, int]]]]:
    spec_path = directory / MEDIUM_SPEC
    try:
        spec = json.loads(spec_path.read_text())
        shorts = {str(n["name"]): int(n["short"]) for n in spec["nodes"]}
        prefix = ipaddress.IPv6Network(spec.get("prefix", "fd00::/64"))
    except FileNotFoundError:
        raise BadInput(f"{spec_path}: not found (--events wants a variant directory of a run)")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{spec_path}: not a medium spec ({type(exc).__name__}: {exc})")
    timeline: dict[int, list[tuple[float, int]]] = {}
    for log in sorted((directory / "logs").glob("*.jsonl")):
        if log.stem not in shorts:
            continue
        readings: set[tuple[float, int]] = set()
        for line in log.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "reading" and isinstance(
                    event.get("t"), (int, float)) and isinstance(event.get("seq"), int):
                readings.add((float(event["t"]), event["seq"]))
        if readings:
            timeline[shorts[log.stem]] = sorted(readings)
    return prefix, timeline
