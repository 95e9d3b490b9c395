"""The scenario's measurements from node events, sink deliveries and captures; a failing
variant recorded while the next one runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config.topology import parse_topology
from testbed.errors import BadInput
from testbed.experiment.nodes import Event
from testbed.experiment.results import read_results
from testbed.experiment.scenario import (
    Delivery, Restarts, measure_air, measure_readings, measure_restarts, measure_setup,
    read_deliveries, run_comparison, sensors_of,
)
from testbed.experiment.variants import Variant
from testbed.lowpan import mac
from testbed.capture.pcapwriter import PcapWriter


def reading(seq: int) -> Event:
    return Event("reading", {"event": "reading", "seq": seq, "t": 100.0 + seq})


def test_readings_count_unique_deliveries_duplicates_and_losses() -> None:
    events = {"s1": [Event("ready", {"event": "ready"}), reading(1), reading(2), reading(3)],
              "s2": [reading(1)]}
    deliveries = [Delivery("s1", 1, 101.0, 101.010), Delivery("s1", 1, 101.0, 101.5),
                  Delivery("s1", 3, 103.0, 103.030), Delivery("s2", 1, 101.0, 101.020)]
    r = measure_readings(events, deliveries)
    assert (r.sent, r.delivered, r.duplicates, r.lost) == (4, 3, 1, 1)
    assert r.latency_ms.p50 == pytest.approx(20.0) and r.latency_ms.p95 == pytest.approx(30.0)


def test_lost_requests_count_against_what_was_asked_for() -> None:
    """On-demand: 3 readings asked of s1, one request lost on the way (never sent), one
    delivery of a seq nobody sent; response time runs from the sink's request."""
    events = {"s1": [reading(1), reading(2)]}
    deliveries = [Delivery("s1", 1, 101.0, 101.010, t_request=100.990),
                  Delivery("s1", 2, 102.0, 102.010, t_request=99.0),  # queued behind a loss
                  Delivery("s1", 7, 107.0, 107.010)]
    r = measure_readings(events, deliveries, expected=3)
    assert (r.expected, r.sent, r.delivered, r.lost, r.unexpected) == (3, 2, 2, 1, 1)
    assert r.response_ms is not None
    assert (r.response_ms.p50, r.response_ms.p95) == (pytest.approx(20.0), pytest.approx(3010.0))
    assert measure_readings(events, deliveries[:1]).response_ms.p50 == pytest.approx(20.0)


def test_no_deliveries_no_latency() -> None:
    r = measure_readings({"s1": [reading(1)]}, [])
    assert (r.sent, r.delivered, r.lost, r.latency_ms.p50) == (1, 0, 1, None)


def test_restarts_count_reconnects_re_registrations_and_the_outbox() -> None:
    """XMPP: every "reconnect" event; CoAP observe: registrations after the first; queued and
    dropped readings by distinct seq (a reading queued again after a drop counts once)."""
    ev = lambda kind, **data: Event(kind, {"event": kind, **data})
    events = {
        "x1": [ev("reconnect", attempt=1), ev("ready"), ev("queued", seq=4),
               ev("queued", seq=5), ev("queued", seq=4), ev("dropped", seq=1),
               ev("reconnect", attempt=1), reading(4)],
        "c1": [ev("ready"), ev("observe", token="a1"), ev("observe", token="a2"),
               ev("observe", token="a3")],
        "c2": [ev("ready"), ev("observe", token="b1"), reading(1)],
        "quiet": [],
    }
    assert measure_restarts(events) == {
        "x1": Restarts(reconnects=2, queued=2, dropped=1), "c1": Restarts(reconnects=2),
        "c2": Restarts(), "quiet": Restarts(),
    }


def test_setup_phase_spans_in_ms() -> None:
    phase = lambda s, e: Event("phase", {"event": "phase", "name": "setup", "start": s, "end": e})
    other = Event("phase", {"event": "phase", "name": "other", "start": 0.0, "end": 9.0})
    phases = measure_setup({"s1": [phase(1.0, 1.25), other], "s2": [phase(2.0, 2.5)],
                            "s3": [phase(3.0, 3.1)]})
    assert phases.setup_ms.p50 == pytest.approx(250.0) and phases.setup_ms.max == pytest.approx(500.0)
    assert measure_setup({"s1": [reading(1)]}).setup_ms.p50 is None


def test_air_counts_frames_bytes_and_acks(tmp_path: Path) -> None:
    data = mac.encode_data(seq=1, pan_id=0xABCD, dst=1, dst_mode=mac.AddrMode.SHORT, src=2,
                           src_mode=mac.AddrMode.SHORT, payload=b"\x41" + bytes(40),
                           ack_request=True)
    with PcapWriter(tmp_path / "c.pcap", t0_unix=0.0) as w:
        for i in range(3):
            w.write(i * 0.01, data)
        w.write(0.05, mac.encode_ack(1))
    air = measure_air(tmp_path / "c.pcap")
    assert (air.frames, air.bytes, air.ack_frames) == (4, 3 * len(data) + 5, 1)


def test_deliveries_tolerate_a_half_written_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    line = {"node": "s1", "seq": 2, "sensor": "temperature", "value": 1.5, "t_node": 1.0,
            "t_sink": 1.1}
    path.write_text(json.dumps(line) + "\n" + '{"node": "s1", "se')
    assert read_deliveries(path) == [Delivery("s1", 2, 1.0, 1.1, 1.5, sensor="temperature")]
    assert read_deliveries(tmp_path / "none.jsonl") == []


def test_a_topology_without_sensors_is_bad_input(tmp_path: Path) -> None:
    topology = parse_topology("name: bare\nnodes:\n  br: {role: border-router}\n"
                              "  r1: {role: router}\nlinks:\n  - [br, r1]\n")
    assert sensors_of(topology) == ()
    with pytest.raises(BadInput, match="no node with role sensor"):
        run_comparison(topology, variants=[Variant.COAP_GET], out=tmp_path)


@pytest.mark.slow
def test_a_failing_variant_is_recorded_and_the_next_one_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN")
    monkeypatch.setenv("PATH", "/usr/sbin:/sbin")  # `ip` yes, `prosody` no
    topology = parse_topology("name: pair\nnodes:\n  br: {role: border-router}\n"
                              "  s1: {role: sensor}\nlinks:\n  - [br, s1]\n")
    run_dir = run_comparison(topology, variants=[Variant.XMPP_MESSAGE, Variant.COAP_OBSERVE_CON],
                             readings=2, interval_s=0.2, out=tmp_path)
    results = read_results(run_dir)
    failed, ok = results.variants["xmpp-message"], results.variants["coap-observe-con"]
    assert "prosody" in failed.error and "not found on PATH" in failed.error
    assert ok.error is None and ok.readings.delivered == ok.readings.sent >= 2
    assert ok.capture == "coap-observe-con/capture.pcap" and (run_dir / ok.capture).is_file()
    assert ok.air.frames > 0


def test_start_offsets_are_seeded_per_node_and_inside_one_interval() -> None:
    from testbed.experiment.scenario import start_offsets

    first = start_offsets(["s1", "s2", "s3"], interval_s=1.0, seed=1)
    assert first == start_offsets(["s3", "s2", "s1"], interval_s=1.0, seed=1)  # per node, not order
    assert all(0.0 <= v < 1.0 for v in first.values()) and len(set(first.values())) == 3
    assert first != start_offsets(["s1", "s2", "s3"], interval_s=1.0, seed=2)


def test_a_delivered_value_that_is_not_the_nodes_is_counted_as_a_mismatch() -> None:
    """The value is checked against nodes/common/reading.py's formula itself (worked out apart:
    the offset of "s1/temperature" is 859, so seq 3 at seed 1 is 20 + (111+11+859)%100/10)."""
    right = 20 + ((3 * 37 + 1 * 11 + 859) % 100) / 10
    assert right == pytest.approx(28.1)
    events = {"s1": [reading(3)]}
    good = Delivery(node="s1", seq=3, t_node=0.0, t_sink=0.01, value=28.1, sensor="temperature")
    assert measure_readings(events, [good], seed=1).mismatched == 0
    assert measure_readings(events, [good], seed=2).mismatched == 1  # another run's value
    wrong = Delivery(node="s1", seq=3, t_node=0.0, t_sink=0.01, value=28.2, sensor="temperature")
    claimed = Delivery(node="s1", seq=3, t_node=0.0, t_sink=0.01, value=28.1,
                       sensor="temperature", claimed_node="s2")
    for d in (wrong, claimed):
        r = measure_readings(events, [d], seed=1)
        assert (r.delivered, r.mismatched) == (1, 1)
