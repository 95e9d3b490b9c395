"""results.json: the DESIGN.md keys, a lossless round trip, atomic writes, percentiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.errors import BadInput
from testbed.experiment.results import (
    Air, NodeFigures, Percentiles, Phases, Readings, Results, Span, VariantResult, percentile, read_results,
    write_results,
)


def sample() -> Results:
    return Results(
        run_id="a1b2c3", topology="default", seed=1, readings=3, interval_s=0.5,
        variants={
            "coap-get": VariantResult(
                readings=Readings(sent=9, delivered=9, duplicates=1, lost=0,
                                  latency_ms=Percentiles(p50=12.5, p95=40.0), reconnects=2,
                                  queued=3, dropped=1),
                nodes={"s1": NodeFigures(tx_s=0.5, rx_s=1.0, reconnects=2, queued=3,
                                         dropped=1)},
                air=Air(frames=40, bytes=2000, ack_frames=20),
                capture="coap-get/capture.pcap",
            ),
            "xmpp-iq": VariantResult(
                phases=Phases(setup_ms=Span(p50=300.0, max=420.5)), error="prosody: no TCP",
                timed_out=True,
            ),
        },
        interrupted="xmpp-pubsub",
    )


def test_round_trip(tmp_path: Path) -> None:
    path = write_results(sample(), tmp_path)
    assert path == tmp_path / "results.json"
    assert read_results(path) == sample()
    assert read_results(tmp_path) == sample()  # the run directory will do
    assert not list(tmp_path.glob("*.tmp*"))


def test_the_file_has_the_contract_keys(tmp_path: Path) -> None:
    data = json.loads(write_results(sample(), tmp_path).read_text())
    assert {"run_id", "topology", "seed", "readings", "interval_s", "variants"} <= set(data)
    v = data["variants"]["coap-get"]
    assert v["readings"] == {"expected": 0, "sent": 9, "delivered": 9, "duplicates": 1,
                             "lost": 0, "unexpected": 0, "mismatched": 0,
                             "latency_ms": {"p50": 12.5, "p95": 40.0}, "response_ms": None,
                             "reconnects": 2, "queued": 3, "dropped": 1}
    assert v["nodes"]["s1"] == {"tx_s": 0.5, "rx_s": 1.0, "energy_mj": None, "reconnects": 2,
                                "queued": 3, "dropped": 1}
    assert v["air"] == {"frames": 40, "bytes": 2000, "ack_frames": 20}
    assert v["phases"] == {"setup_ms": {"p50": None, "max": None}}
    assert v["capture"] == "coap-get/capture.pcap" and v["error"] is None


def test_derived_figures() -> None:
    v = sample().variants["coap-get"]
    assert v.ok and v.readings.delivered == v.readings.sent


def test_a_damaged_file_is_bad_input_naming_it(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"run_id": "x"')
    with pytest.raises(BadInput, match=r"results.json: not a results.json"):
        read_results(tmp_path)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50),
       st.floats(min_value=0, max_value=100))
def test_nearest_rank_percentile_is_one_of_the_values_and_ordered(values: list[float],
                                                                   q: float) -> None:
    p = percentile(values, q)
    assert p in values
    assert sum(v <= p for v in values) >= q / 100 * len(values)  # at least q % at or below
    assert percentile(values, 100) == max(values) and percentile(values, 0) == min(values)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_a_contiki_runs_sections_read_back(tmp_path: Path) -> None:
    """memory.contiki (testbed/memory/contiki.py) and energy.energest (testbed/energy/
    energest_medium.py) are plain JSON inside sections read_results keeps as they are."""
    energest = {"ticks_per_second": 1_000_000, "nodes": {"s1": {
        "periods": 2, "window_s": 20.0, "energest": {"tx_s": 0.027},
        "medium": {"tx_s": 0.021}, "difference": {"tx_s": 0.006, "tx_pct": 28.57}}}}
    memory = {"contiki": {"target": "cc2538dk", "rom_class_bytes": 131072, "firmware": {
        "xmpp-sensor": {"rom": 69256, "ram": 17260, "modules": {"app": {"rom": 4493}}},
        "router": {"error": "memory: router: cc2538dk build failed"}}}}
    base = sample()
    results = Results(**{**{f: getattr(base, f) for f in base.__slots__}, "platform": "contiki",
                         "memory": memory,
                         "variants": {"coap-get": VariantResult(energy={"energest": energest})}})
    write_results(results, tmp_path)
    back = read_results(tmp_path)
    assert back == results and back.platform == "contiki"
    assert back.memory["contiki"]["firmware"]["xmpp-sensor"]["rom"] == 69256
    assert back.variants["coap-get"].energy["energest"]["nodes"]["s1"]["window_s"] == 20.0
