"""Run directories for the report's tests: a synthetic one with round, hand-checkable figures
(written through testbed.experiment.results, as the scenario writes them) and a copy of a real
run (tests/report/data/sample-run: `testbed compare --readings 4 --interval 0.5` on the default
topology, kept small: results.json, run.json, topology.yaml and the deliveries, no logs).

Synthetic figures (two sensors s1, s2 behind the border router br, 4 readings each):

    variant           delivered  PSDU B  on air B  steady B/rdg frames/rdg  set-up B  mJ/rdg  life d
    coap-observe-non     8/8      2000     2240       150          3.0        600     20.0    5.5
    xmpp-message         8/8     12000    13200       600         12.0       6000     25.0    4.0

(on air: air.total_bytes, the PSDUs plus 6 B SHR+PHR a frame), so XMPP costs 4.0x CoAP per
reading in steady state, 5.9x all-in (1650 B against 280 B on the air per delivered reading).
"""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

from testbed.experiment.results import (
    Air, Percentiles, Phases, Readings, Results, Span, VariantResult, write_results,
)

DATA = Path(__file__).parent / "data" / "sample-run"
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 195)

TOPOLOGY = """\
name: tiny
radio: {channel: 26, pan_id: 0xabcd}
nodes:
  br: {role: border-router}
  s1: {role: sensor}
  s2: {role: sensor}
links:
  - [br, s1]
  - [br, s2, {prr: 0.9}]
"""

HOSTILE = "<script>alert('x')</script> | $x$ & more"


def _energy(per_reading: float, lifetimes: dict[str, float], scale: float) -> dict[str, Any]:
    def node(role: str, tx: float, rx: float, listen: float) -> dict[str, Any]:
        mj = {"tx": tx * scale, "rx": rx * scale, "listen": listen, "sleep": 0.0}
        return {"role": role, "energy_mj": {**mj, "total": sum(mj.values())}}

    return {
        "profile": {"name": "cc2420", "title": "Tmote Sky (MSP430F1611 + CC2420)",
                    "voltage_v": 3.0},
        "battery": {"title": "2xAA", "capacity_mah": 2500.0, "voltage_v": 3.0},
        "mode": "always-on", "wakeup_ms": None, "span_s": 4.0 * scale,
        "nodes": {"br": node("relay", 2.0, 4.0, 150.0), "s1": node("sensor", 1.0, 2.0, 160.0),
                  "s2": node("sensor", 1.5, 2.5, 158.0)},
        "idle_current_ma": 18.8, "interval_s": 0.5, "idle_floor_mj": 28.2,
        "per_reading_mj": {"sensors": per_reading + 28.2, "protocol": per_reading},
        "lifetime_days": lifetimes,
    }


def coap() -> VariantResult:
    return VariantResult(
        readings=Readings(expected=8, sent=8, delivered=8,
                          latency_ms=Percentiles(p50=5.0, p95=9.0)),
        air=Air(frames=40, bytes=2000, ack_frames=16, fragments=0, total_bytes=2240,
                by_layer={"phy": 240, "mac": 400, "ack": 80, "lowpan": 500, "icmpv6": 0,
                          "transport": 220, "app": 800},
                per_reading={"readings": 8, "bytes": 150.0, "frames": 3.0},
                setup={"bytes": 600, "frames": 8}, overhead={"bytes": 440, "frames": 8},
                fragmentation={"datagrams": 20, "fragmented": 0,
                               "fragments_per_datagram_max": 0}),
        capture="coap-observe-non/capture.pcap",
        energy=_energy(20.0, {"s1": 6.0, "s2": 5.5}, 1.0),
    )


def xmpp() -> VariantResult:
    return VariantResult(
        readings=Readings(expected=8, sent=8, delivered=8,
                          latency_ms=Percentiles(p50=30.0, p95=200.0)),
        air=Air(frames=200, bytes=12000, ack_frames=80, fragments=40, total_bytes=13200,
                by_layer={"phy": 1200, "mac": 2000, "ack": 500, "lowpan": 2500, "icmpv6": 0,
                          "transport": 3000, "app": 4000},
                per_reading={"readings": 8, "bytes": 600.0, "frames": 12.0},
                setup={"bytes": 6000, "frames": 90}, overhead={"bytes": 2400, "frames": 14},
                fragmentation={"datagrams": 60, "fragmented": 12,
                               "fragments_per_datagram_max": 5}),
        phases=Phases(setup_ms=Span(p50=250.0, max=400.0)),
        capture="xmpp-message/capture.pcap",
        energy=_energy(25.0, {"s1": 4.0, "s2": 4.5}, 3.0),
    )


MEMORY = {
    "coap-sensor": {
        "bytecode_bytes": 9000, "source_bytes": 25000,
        "modules": {"coap": {"source_bytes": 9000, "bytecode_bytes": 3000},
                    "main": {"source_bytes": 16000, "bytecode_bytes": 6000}},
        "heap": {"platform": "micropython-test", "heap_total": 10000, "before": 300,
                 "after_import": 5000, "after_encode": 6000, "peak": 7000, "fits": True,
                 "error": None},
    },
    "xmpp-sensor": {
        "bytecode_bytes": 14000, "source_bytes": 37000,
        "modules": {"client": {"source_bytes": 20000, "bytecode_bytes": 8000},
                    "main": {"source_bytes": 17000, "bytecode_bytes": 6000}},
        "heap": {"platform": "micropython-test", "heap_total": 10000, "before": 300,
                 "after_import": None, "after_encode": None, "peak": None, "fits": False,
                 "error": "compile+import xmltok: MemoryError: memory allocation failed, "
                          "allocating 97 bytes"},
    },
}


def deliveries(n_readings: int, latency_ms: float) -> list[dict[str, Any]]:
    """Each sensor's readings, latency growing by 1 ms a reading; s1's first one twice."""
    lines = []
    for node in ("s1", "s2"):
        for seq in range(1, n_readings + 1):
            t_node = 1000.0 + seq
            lines.append({"node": node, "seq": seq, "t_node": t_node,
                          "t_sink": t_node + (latency_ms + seq - 1) / 1000})
    return [lines[0] | {"t_sink": lines[0]["t_sink"] + 5.0}, *lines]  # the late duplicate


def write_run(directory: Path, *, variants: dict[str, VariantResult] | None = None,
              memory: dict[str, Any] | None = None, manifest: dict[str, Any] | None = None,
              topology: str | None = TOPOLOGY, tests: list[dict[str, Any]] | None = None,
              run_id: str = "a1b2c3", readings: int = 4) -> Path:
    """A run directory as `testbed compare` leaves it (without logs)."""
    directory.mkdir(parents=True, exist_ok=True)
    if variants is None:
        variants = {"coap-observe-non": coap(), "xmpp-message": xmpp()}
    results = Results(run_id=run_id, topology="tiny", seed=7, readings=readings, interval_s=0.5,
                      variants=variants, memory=MEMORY if memory is None else memory)
    write_results(results, directory)
    (directory / "run.json").write_text(json.dumps(manifest if manifest is not None else {
        "run_id": run_id, "topology": {"name": "tiny", "source": "/nowhere/tiny.yaml",
                                       "sha256": "ab" * 32},
        "seed": 7, "started": "2026-11-26T07:50:52+00:00", "ended": "2026-11-26T07:51:34+00:00",
        "testbed_version": "0.1.0", "kernel": "Linux 6.1", "python": "3.11.7",
        "argv": ["testbed", "compare", "--readings", str(readings)],
        "versions": {"prosody": "0.12.3", "scapy": "2.6.1"},
    }))
    if topology is not None:
        (directory / "topology.yaml").write_text(topology)
    for i, (name, v) in enumerate(variants.items()):
        _stub_capture(directory, v.capture)
        if "/" in name:  # a hostile name has no directory of its own
            continue
        (directory / name).mkdir(exist_ok=True)
        lines = deliveries(readings, 5.0 * (i + 1) ** 2)
        (directory / name / "deliveries.jsonl").write_text(
            "".join(json.dumps(d) + "\n" for d in lines))
    if tests is not None:
        (directory / "tests.json").write_text(json.dumps(tests))
    return directory


def hostile(variant: VariantResult) -> VariantResult:
    return replace(variant, error=HOSTILE)


def copy_sample(directory: Path) -> Path:
    """The real run, copied (reports are written into the copy), with header-only captures."""
    shutil.copytree(DATA, directory)
    results = json.loads((directory / "results.json").read_text())
    for v in results["variants"].values():
        _stub_capture(directory, v.get("capture"))
    return directory


def _stub_capture(directory: Path, capture: str | None) -> None:
    """A header-only pcap where results.json says the capture is, if that is inside the run
    directory: tests give captures hostile paths (/etc/passwd, ../..) that must stay unwritten."""
    if not capture:
        return
    path = (directory / capture).resolve()
    if not path.is_relative_to(directory.resolve()):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PCAP_HEADER)
