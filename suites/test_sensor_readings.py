"""Sensor readings over the emulated 802.15.4 network, per protocol variant.

A suite a lab copies: ordinary pytest tests on the `testbed` experiment (run once for the
variants given with --variants; default: all) and the `variant` parametrisation.

    pytest suites/ --topology topologies/default.yaml --variants coap-get,xmpp-message
"""

from __future__ import annotations

import pytest

from testbed.experiment.variants import Variant
from testbed.lowpan.mac import MAX_PSDU, FrameType

pytestmark = pytest.mark.slow


def test_the_variant_ran_without_error(testbed, variant) -> None:
    assert testbed.result(variant).error is None


def test_every_sensor_produced_every_reading(testbed, variant) -> None:
    result = testbed.result(variant)
    assert result.readings.sent >= testbed.readings * len(testbed.sensors())


def test_reliable_variants_deliver_every_reading(testbed, variant, record_property) -> None:
    readings = testbed.result(variant).readings
    record_property("delivered", readings.delivered)
    record_property("sent", readings.sent)
    if not variant.reliable:
        # NON notifications may be lost: report the loss, do not hide it
        record_property("lost", readings.lost)
        assert readings.delivered > 0
        return
    assert readings.delivered == readings.expected and readings.lost == 0


def test_nothing_reaches_the_sink_that_was_not_sent(testbed, variant) -> None:
    """The sink verifies each reading against what the nodes say they sent (and who sent it)."""
    readings = testbed.result(variant).readings
    assert readings.unexpected == 0


def test_every_frame_fits_the_phy(testbed, variant) -> None:
    lengths = [len(f.psdu) for f in testbed.frames(variant)]
    assert lengths and max(lengths) <= MAX_PSDU  # IEEE 802.15.4 aMaxPHYPacketSize


def test_no_more_acks_than_data_frames(testbed, variant) -> None:
    frames = testbed.frames(variant)
    acks = sum(1 for f in frames if f.frame_type == FrameType.ACK)
    data = sum(1 for f in frames if f.frame_type == FrameType.DATA)
    assert acks == testbed.result(variant).air.ack_frames
    assert acks <= data


def test_air_figures_match_the_capture(testbed, variant) -> None:
    frames = testbed.frames(variant)
    air = testbed.result(variant).air
    assert (air.frames, air.bytes) == (len(frames), sum(len(f.psdu) for f in frames))


def test_latency_is_positive_and_below_the_run(testbed, variant) -> None:
    readings = testbed.result(variant).readings
    if readings.latency_ms.p50 is None:
        pytest.skip("no reading delivered")
    assert readings.latency_ms.p50 > 0  # the node's clock is the sink's: no negative one-way
    assert readings.latency_ms.p95 < 60_000  # a reading older than the run is a bookkeeping error
    if variant in (Variant.COAP_GET, Variant.XMPP_IQ):  # on-demand: asked, then answered
        assert readings.response_ms is not None
        assert readings.response_ms.p50 >= readings.latency_ms.p50


@pytest.mark.variant("xmpp-message", "xmpp-pubsub", "xmpp-iq", "xmpp-message-tls")
def test_xmpp_nodes_record_their_session_setup(testbed, variant, node) -> None:
    for name in testbed.sensors():
        setups = [e for e in node(name) if e.kind == "phase" and e.get("name") == "setup"]
        assert setups and all(e["end"] > e["start"] for e in setups)
    assert testbed.result(variant).phases.setup_ms.p50 > 0


@pytest.mark.variant("xmpp-message-tls")
def test_starttls_costs_more_set_up_bytes_than_plain(testbed, variant) -> None:
    plain = Variant.XMPP_MESSAGE
    if plain not in testbed.variants:
        pytest.skip("xmpp-message not selected")
    tls, clear = testbed.result(variant).air, testbed.result(plain).air
    assert tls.setup["bytes"] > clear.setup["bytes"]  # the TLS handshake, then the same session
    assert tls.per_reading["readings"] > 0  # TLS readings found (by time), not lost in overhead


@pytest.mark.variant("coap-get", "coap-observe-con", "coap-observe-non")
def test_coap_nodes_say_ready_and_emit_only_known_events(node, testbed) -> None:
    for name in testbed.sensors():
        kinds = {e.kind for e in node(name)}
        assert "ready" in kinds
        assert kinds <= {"ready", "phase", "reading", "done", "error", "reconnect"}
        assert "error" not in kinds
