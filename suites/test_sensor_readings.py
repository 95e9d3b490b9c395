"""Sensor readings over the 802.15.4 network, per protocol variant: did every reading arrive,
once, from the node that sent it, soon enough?

A suite a lab copies: ordinary pytest tests on the `testbed` experiment (run once for the
variants given with --variants; default: all) and the `variant` parametrisation.

    pytest suites/ --topology topologies/default.yaml --variants coap-get,xmpp-message
"""

from __future__ import annotations

import pytest

from testbed.experiment.variants import Variant

pytestmark = pytest.mark.slow


def test_the_variant_ran_without_error(testbed, variant) -> None:
    result = testbed.result(variant)
    assert result.error is None
    assert not result.timed_out, "the sink still lacked readings when the time allowance ran out"


def test_every_sensor_produced_every_reading(testbed, variant) -> None:
    result = testbed.result(variant)
    assert result.readings.sent >= testbed.readings * len(testbed.sensors())


def test_reliable_variants_deliver_every_reading(testbed, variant, results) -> None:
    readings = testbed.result(variant).readings
    if not variant.reliable:
        # NON notifications may be lost: report the loss, do not hide it
        results.record("lost", readings.lost, unit="readings")
        assert readings.delivered > 0
        return
    assert readings.delivered == readings.expected and readings.lost == 0


def test_no_reading_arrives_twice(testbed, variant) -> None:
    """CoAP deduplicates retransmitted CON messages (RFC 7252 §4.5), TCP retransmits below
    XMPP: the sink must see each (node, seq) once."""
    assert testbed.result(variant).readings.duplicates == 0


def test_nothing_reaches_the_sink_that_was_not_sent(testbed, variant) -> None:
    """The sink verifies each reading against what the nodes say they sent (and who sent it),
    and its value against the nodes' own formula (experiment/truth.py)."""
    readings = testbed.result(variant).readings
    assert readings.unexpected == 0 and readings.mismatched == 0


def test_latency_is_positive_and_below_the_run(testbed, variant) -> None:
    readings = testbed.result(variant).readings
    assert readings.latency_ms.p50 is not None, "no reading delivered: no latency to check"
    assert readings.latency_ms.p50 > 0  # the node's clock is the sink's: no negative one-way
    assert readings.latency_ms.p95 < 60_000  # a reading older than the run is a bookkeeping error
    if variant in (Variant.COAP_GET, Variant.XMPP_IQ):  # on-demand: asked, then answered
        assert readings.response_ms is not None
        assert readings.response_ms.p50 >= readings.latency_ms.p50


def test_every_node_reports_each_reading_it_sent(node, testbed, variant) -> None:
    """The node's own log has one `reading` event per seq, 1..readings, in order."""
    for name in testbed.sensors():
        seqs = [e["seq"] for e in node(name).events if e.kind == "reading"]
        assert seqs == sorted(set(seqs)), f"{name}: readings out of order or repeated: {seqs}"
        assert set(seqs) >= set(range(1, testbed.readings + 1))


@pytest.mark.variant("xmpp-message", "xmpp-pubsub", "xmpp-iq", "xmpp-message-tls")
def test_xmpp_nodes_record_their_session_setup(testbed, variant, node) -> None:
    for name in testbed.sensors():
        setups = [e for e in node(name).events if e.kind == "phase" and e.get("name") == "setup"]
        assert setups and all(e["end"] > e["start"] for e in setups)
    assert testbed.result(variant).phases.setup_ms.p50 > 0


@pytest.mark.variant("coap-get", "coap-observe-con", "coap-observe-non")
def test_coap_nodes_say_ready_and_emit_only_known_events(node, testbed, variant) -> None:
    for name in testbed.sensors():
        kinds = {e.kind for e in node(name).events}
        assert "ready" in kinds
        # `observe`: an observer (re-)registered (the scenario counts re-registrations from it)
        assert kinds <= {"ready", "phase", "reading", "done", "error", "reconnect", "observe"}
        assert "error" not in kinds, node(name).console
