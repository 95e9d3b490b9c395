"""What each variant costs on the air, from its capture: every frame decodes, the byte
accounting adds up, and the comparison's claims (CoAP observe-non costs less per reading and to
set up than xmpp-message) hold on this lab's topology.

    pytest suites/test_air_cost.py --topology topologies/default.yaml \
        --variants coap-observe-non,xmpp-message --junitxml air.xml
"""

from __future__ import annotations

import pytest

from testbed.experiment.variants import Variant
from testbed.lowpan.mac import MAX_PSDU, FrameType, decode

pytestmark = pytest.mark.slow


def test_every_captured_frame_decodes(testbed, variant) -> None:
    """Every frame of the variant's capture is a valid IEEE 802.15.4 frame with a good FCS."""
    frames = testbed.frames(variant)
    assert frames, f"{variant}: the capture is empty"
    for number, frame in enumerate(frames, 1):
        assert len(frame.psdu) <= MAX_PSDU, f"frame {number} longer than aMaxPHYPacketSize"
        decode(frame.psdu)  # raises FrameError naming the offset


def test_the_analysis_understood_every_frame(testbed, variant) -> None:
    assert testbed.result(variant).air.undecodable == 0


def test_air_figures_match_the_capture(testbed, variant) -> None:
    air, frames = testbed.result(variant).air, testbed.frames(variant)
    assert (air.frames, air.bytes) == (len(frames), sum(len(f.psdu) for f in frames))
    acks = sum(1 for f in frames if f.frame_type == FrameType.ACK)
    assert acks == air.ack_frames
    assert acks <= air.frames - acks  # an ACK answers a data frame


def test_every_byte_is_attributed_once(testbed, variant) -> None:
    """By layer and by purpose (per reading, set-up, overhead), the bytes add up to the total
    on the air (PSDUs plus the PHY's SHR+PHR)."""
    air = testbed.result(variant).air
    assert sum(air.by_layer.values()) == air.total_bytes == air.bytes + 6 * air.frames
    per_reading = air.per_reading.get("bytes_total", 0)
    assert per_reading + air.setup["bytes"] + air.overhead["bytes"] == air.total_bytes


def _both(testbed, a: Variant, b: Variant):
    missing = [str(v) for v in (a, b) if str(v) not in testbed.results.variants]
    if missing:
        pytest.skip(f"compares {a} with {b}: run with --variants {a},{b} (missing: "
                    f"{', '.join(missing)})")
    return testbed.result(a), testbed.result(b)


@pytest.mark.variant("coap-observe-non")
def test_coap_observe_non_costs_less_per_reading_than_xmpp_message(testbed, variant,
                                                                   results) -> None:
    coap, xmpp = _both(testbed, Variant.COAP_OBSERVE_NON, Variant.XMPP_MESSAGE)
    coap_bytes, xmpp_bytes = coap.air.per_reading["bytes"], xmpp.air.per_reading["bytes"]
    results.record("xmpp_over_coap_steady_bytes_per_reading", round(xmpp_bytes / coap_bytes, 2))
    assert coap_bytes < xmpp_bytes
    assert coap.air.per_reading["frames"] <= xmpp.air.per_reading["frames"]


@pytest.mark.variant("coap-observe-non")
def test_coap_observe_costs_less_to_set_up_than_an_xmpp_session(testbed, variant,
                                                                results) -> None:
    """An observe registration against TCP + XML stream + SASL + resource binding."""
    coap, xmpp = _both(testbed, Variant.COAP_OBSERVE_NON, Variant.XMPP_MESSAGE)
    results.record("xmpp_setup_bytes", xmpp.air.setup["bytes"], unit="B")
    assert coap.air.setup["bytes"] < xmpp.air.setup["bytes"]


@pytest.mark.variant("xmpp-message-tls")
def test_starttls_costs_more_set_up_bytes_than_plain(testbed, variant) -> None:
    tls, plain = _both(testbed, Variant.XMPP_MESSAGE_TLS, Variant.XMPP_MESSAGE)
    assert tls.air.setup["bytes"] > plain.air.setup["bytes"]  # the TLS handshake on top
    assert tls.air.per_reading["readings"] > 0  # TLS readings found (by time), not lost in overhead


@pytest.mark.needs_boards(sensniff=1)
def test_the_lab_sniffer_hears_valid_frames(sniffer, results) -> None:
    """The lab's sensniff board (on --backend lab): what it hears in 10 s decodes."""
    frames = list(sniffer.frames(count=20, duration_s=10.0))
    # a lab that has a sniffer and hears nothing is broken (channel, antenna, no node up)
    assert frames, f"no frame heard in 10 s on {sniffer.port}: is a node sending?"
    for frame in frames:
        decode(frame.psdu)
    results.record("frames_heard", len(frames))
