"""deliveries.jsonl: what a sink received, one reading per line (docs/CONTRACTS.md "Services").

The sinks write it; the scenario measures readings from it and the report draws latencies
from it, both through `read_deliveries`, so a line means the same to each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.jsonlines import read_json_lines


@dataclass(frozen=True, slots=True)
class Delivery:
    """One line of a sink's deliveries.jsonl (docs/CONTRACTS.md "Services")."""

    node: str
    seq: int
    t_node: float
    t_sink: float
    value: Any = None
    t_request: float | None = None  # on-demand variants: when the sink asked
    via: str | None = None  # "xep-0174": a serverless collector got it (None: the server)
    sensor: str | None = None
    claimed_node: str | None = None  # the node its payload names, where that is not `node`


def read_deliveries(path: Path) -> list[Delivery]:
    """Every delivery record in `path`, in file order; a line that is not one is skipped."""
    found = []
    for d in read_json_lines(path):
        try:
            found.append(Delivery(node=str(d["node"]), seq=int(d["seq"]),
                                  t_node=float(d["t_node"]), t_sink=float(d["t_sink"]),
                                  value=d.get("value"),
                                  t_request=(float(d["t_request"]) if d.get("t_request")
                                             is not None else None),
                                  via=(str(d["via"]) if d.get("via") else None),
                                  sensor=(str(d["sensor"]) if d.get("sensor") else None),
                                  claimed_node=(str(d["claimed_node"])
                                                if d.get("claimed_node") else None)))
        except (ValueError, KeyError, TypeError):
            continue  # a line that is not a delivery record
    return found
