"""Discovery as its own phase (issue 09): how long sensors took to find where to send, what it
cost, and, for xmpp-serverless, what each phase (XEP-0174, then the server) carried.

From the nodes' events: each sensor's first "discovery" phase (start .. end, what it found:
server, peer or nothing; the mDNS and unicast DNS bytes it sent meanwhile; a serverless
sensor waits discovery_timeout_s for a server before it settles for a peer, so found_ms is at
least that), how soon it learnt of its first service (first_service_ms), its moves from
a link-local stream to a server ("ready" with serverless false after one with true). From the
capture's analysis: frames and bytes whose purpose is mdns or dns (every discovery byte on the
air, all nodes, the whole variant). For xmpp-serverless, the run's `server-started` file
splits the capture in time: readings delivered over XEP-0174 and over the server, and the
frames and bytes on the air before and after the server started.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from testbed.capture.pcapfile import iter_frames
from testbed.errors import BadInput
from testbed.experiment.nodes import Event
from testbed.experiment.results import Air, percentile
from testbed.services.deliveries import Delivery

DISCOVERY_PURPOSES = ("mdns", "dns")


def measure_discovery(events: Mapping[str, Sequence[Event]], air: Air,
                      deliveries: Sequence[Delivery] = (), *, capture: Path | None = None,
                      server_started: float | None = None) -> dict[str, Any]:
    """The `discovery` section of a variant's results; {} when no node discovered."""
    firsts = []
    for evs in events.values():
        phases = [e for e in evs if e.kind == "phase" and e.get("name") == "discovery"]
        if phases:
            firsts.append(phases[0])
    if not firsts:
        return {}
    spans = [(float(e["end"]) - float(e["start"])) * 1000.0 for e in firsts]
    heard = []  # from a node's discovery start to the first service it learnt of
    for evs in events.values():
        started = [e for e in evs if e.kind == "mdns" and e.get("what") == "started"]
        services = [e for e in evs if e.kind == "mdns" and e.get("what") == "service"]
        if started and services:
            heard.append((float(services[0]["t"]) - float(started[0]["t"])) * 1000.0)
    on_air = {p: air.by_purpose.get(p, {"bytes": 0, "frames": 0}) for p in DISCOVERY_PURPOSES}
    section: dict[str, Any] = {
        "found": dict(Counter(str(e.get("found")) for e in firsts)),
        "found_ms": {"p50": _round(percentile(spans, 50)), "max": _round(max(spans))},
        "first_service_ms": {"p50": _round(percentile(heard, 50)),
                             "max": _round(max(heard)) if heard else None},
        "node_sent_bytes": sum(int(e.get("mdns_bytes", 0)) for e in firsts),
        "air": {"frames": sum(v["frames"] for v in on_air.values()),
                "bytes": sum(v["bytes"] for v in on_air.values()), "by_purpose": on_air},
        "moves_to_server": sum(_moves(evs) for evs in events.values()),
    }
    if server_started is not None:
        section["phases"] = _phases(deliveries, capture, server_started)
    return section


def _moves(evs: Sequence[Event]) -> int:
    moves, serverless = 0, False
    for e in evs:
        if e.kind == "ready":
            if serverless and not e.get("serverless"):
                moves += 1
            serverless = bool(e.get("serverless"))
    return moves


def _phases(deliveries: Sequence[Delivery], capture: Path | None,
            server_started: float) -> dict[str, Any]:
    """Readings per path (first delivery of each (node, seq)) and the air before/after."""
    first: dict[tuple[str, int], Delivery] = {}
    for d in deliveries:
        first.setdefault((d.node, d.seq), d)
    via = Counter(d.via or "server" for d in first.values())
    air = {"serverless": {"frames": 0, "bytes": 0}, "server": {"frames": 0, "bytes": 0}}
    if capture is not None and capture.exists():
        try:
            for frame in iter_frames(capture):
                phase = air["serverless" if frame.time < server_started else "server"]
                phase["frames"] += 1
                phase["bytes"] += len(frame.psdu)
        except BadInput:
            pass  # the capture's own analysis reports it
    return {"server_started": round(server_started, 3),
            "serverless": {"delivered": via.get("xep-0174", 0), **air["serverless"]},
            "server": {"delivered": via.get("server", 0), **air["server"]}}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
