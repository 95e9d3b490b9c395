"""results.json: what a comparison measured per variant (DESIGN.md "Contracts").

Written atomically after every variant, so an interrupted run keeps what it measured.
`read_results(path)` gives typed records back (for the pytest plugin and later reports).
Keys this issue fills: readings, air.frames/bytes/ack_frames, phases.setup_ms, capture,
error; issue 03 fills the rest of `air` (testbed.analysis); energy arrives with issue 04.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from testbed.analysis.layers import SHR_PHR_BYTES
from testbed.errors import BadInput
from testbed.jsonlines import write_json_atomic

RESULTS_FILE = "results.json"


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None = None
    p95: float | None = None


@dataclass(frozen=True, slots=True)
class Readings:
    """Ground truth. `expected` is what the scenario asked for (readings x sensors): in the
    on-demand variants (coap-get, xmpp-iq) a request lost on the way never makes a node send,
    so `lost` counts against `expected`, not only against `sent`. `latency_ms` is one way,
    node's reading time to the sink; `response_ms`, for on-demand variants, runs from the
    sink's request, so it shows requests that waited behind a lost one."""

    expected: int = 0
    sent: int = 0
    delivered: int = 0
    duplicates: int = 0
    lost: int = 0
    unexpected: int = 0  # deliveries of a (node, seq) no node reports having sent
    # delivered readings whose value is not the node's (experiment/truth.py) or whose payload
    # names another node: delivered, but wrong
    mismatched: int = 0
    latency_ms: Percentiles = field(default_factory=Percentiles)
    response_ms: Percentiles | None = None
    # issue 06, from the nodes' event logs: times a node started over (XMPP: "reconnect"
    # events, failed first connects included; CoAP observe: registrations after the first),
    # readings that waited in a node's outbox while it had no session, and readings a full
    # outbox pushed out (counted in `lost` too: they never reached the sink)
    reconnects: int = 0
    queued: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Air:
    """DESIGN.md `air` + the attribution of testbed.analysis (issue 03; account.py says how).

    frames/bytes/ack_frames: every captured frame, PSDU sum (tshark's frame.len), ACK frames.
    total_bytes = bytes + 6 x frames (SHR+PHR): what by_layer sums to and what
    per_reading["bytes"] x per_reading["readings"] + setup["bytes"] + overhead["bytes"] is.
    """

    frames: int = 0
    bytes: int = 0
    ack_frames: int = 0
    fragments: int = 0
    total_bytes: int = 0
    by_layer: dict[str, int] = field(default_factory=dict)
    by_purpose: dict[str, dict[str, int]] = field(default_factory=dict)
    per_reading: dict[str, float] = field(default_factory=dict)
    setup: dict[str, int] = field(default_factory=dict)
    overhead: dict[str, int] = field(default_factory=dict)
    fragmentation: dict[str, float] = field(default_factory=dict)
    retransmissions: dict[str, int] = field(default_factory=dict)
    payload: dict[str, int] = field(default_factory=dict)
    undecodable: int = 0

    @property
    def on_air_bytes(self) -> int:
        """Every captured frame's bytes incl. the PHY's SHR+PHR: total_bytes, or, in a run from
        before testbed.analysis filled it, the PSDU bytes plus SHR+PHR of every frame (what
        total_bytes is by definition)."""
        return self.total_bytes or self.bytes + SHR_PHR_BYTES * self.frames

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Air:
        return cls(**{k: (int(v) if isinstance(v, (int, float)) else dict(v))
                      for k, v in data.items() if k in cls.__slots__})


@dataclass(frozen=True, slots=True)
class Span:
    p50: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Phases:
    setup_ms: Span = field(default_factory=Span)


@dataclass(frozen=True, slots=True)
class NodeFigures:
    """DESIGN.md `nodes.<n>` (issue 04, testbed.energy.report): the node's radio time in TX
    and RX on the emulated (always-on) medium, and its energy in the `energy` section's mode."""

    tx_s: float = 0.0
    rx_s: float = 0.0
    energy_mj: float | None = None
    # issue 06: this node's share of readings.reconnects / queued / dropped
    reconnects: int = 0
    queued: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class VariantResult:
    readings: Readings = field(default_factory=Readings)
    air: Air = field(default_factory=Air)
    phases: Phases = field(default_factory=Phases)
    capture: str | None = None
    error: str | None = None
    timed_out: bool = False  # the sink had not every reading when the allowance ran out
    # issue 04 energy: per node figures and the `energy` section (testbed/energy/report.py)
    nodes: dict[str, NodeFigures] = field(default_factory=dict)
    energy: dict[str, Any] = field(default_factory=dict)
    # issue 09: finding the server or peer (testbed/experiment/discovery.py); {} without
    discovery: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Results:
    run_id: str
    topology: str
    seed: int
    readings: int
    interval_s: float
    variants: dict[str, VariantResult] = field(default_factory=dict)
    interrupted: str | None = None  # the variant a SIGINT/SIGTERM cut short (not in variants)
    #: what the nodes ran: "emulated" (Linux namespaces, Python apps) or "contiki" (Contiki-NG
    #: firmware on the frame port); the topology's PAN platform
    platform: str = "emulated"
    #: the readings' application format in both protocols (services/payload.py FORMATS)
    payload: str = "senml-json"
    # issue 04: per protocol app, testbed/memory/summary.py memory_section (once per run)
    memory: dict[str, Any] = field(default_factory=dict)
    #: compare --repeat N: seeds, the repeats' run directories and per variant and headline
    #: figure the median and its 95 % interval (report/spread.py); empty for one run
    repeats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name, variant in self.variants.items():
            if not variant.air.total_bytes:  # no capture analysed: only what was counted
                air = data["variants"][name]["air"]
                data["variants"][name]["air"] = {k: air[k] for k in _COUNTED}
        return data


_COUNTED = ("frames", "bytes", "ack_frames")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def write_results(results: Results, directory: Path) -> Path:
    """Write `directory/results.json` atomically (a reader never sees half a file)."""
    return write_json_atomic(Path(directory) / RESULTS_FILE, results.to_json())


def _variant(name: str, data: Mapping[str, Any]) -> VariantResult:
    r = data.get("readings", {})
    return VariantResult(
        readings=Readings(
            expected=int(r.get("expected", 0)), sent=int(r.get("sent", 0)),
            delivered=int(r.get("delivered", 0)), duplicates=int(r.get("duplicates", 0)),
            lost=int(r.get("lost", 0)), unexpected=int(r.get("unexpected", 0)),
            mismatched=int(r.get("mismatched", 0)),
            latency_ms=Percentiles(**r.get("latency_ms", {})),
            response_ms=Percentiles(**r["response_ms"]) if r.get("response_ms") else None,
            reconnects=int(r.get("reconnects", 0)), queued=int(r.get("queued", 0)),
            dropped=int(r.get("dropped", 0)),
        ),
        air=Air.from_json(data.get("air", {})),
        phases=Phases(setup_ms=Span(**data.get("phases", {}).get("setup_ms", {}))),
        capture=data.get("capture"),
        error=data.get("error"),
        timed_out=bool(data.get("timed_out", False)),
        nodes={n: NodeFigures(**f) for n, f in (data.get("nodes") or {}).items()},
        energy=dict(data.get("energy") or {}),
        discovery=dict(data.get("discovery") or {}),
    )


def read_results(path: str | Path) -> Results:
    """Read results.json (a file or the run directory holding it) into typed records."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        data = json.loads(path.read_text())
        return Results(
            run_id=str(data["run_id"]), topology=str(data["topology"]), seed=int(data["seed"]),
            readings=int(data["readings"]), interval_s=float(data["interval_s"]),
            variants={n: _variant(n, v) for n, v in data["variants"].items()},
            interrupted=data.get("interrupted"),
            memory=dict(data.get("memory") or {}),
            platform=str(data.get("platform", "emulated")),
            # runs before --payload carried XEP-0323 (XMPP) and text (CoAP)
            payload=str(data.get("payload", "xep0323/text")),
            repeats=dict(data.get("repeats") or {}),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: not a results.json ({type(exc).__name__}: {exc})") from exc
