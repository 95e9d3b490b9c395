"""PHY figures against IEEE 802.15.4-2006 (REFERENCES.md table)."""

from __future__ import annotations

import pytest

from testbed.radio import phy


def test_full_frame_takes_4256_us() -> None:
    assert phy.airtime(phy.MAX_PSDU) == pytest.approx(4.256e-3)


def test_ack_takes_352_us() -> None:
    assert phy.airtime(phy.ACK_PSDU) == pytest.approx(352e-6)


def test_mac_timing_constants() -> None:
    assert phy.BYTE_S == pytest.approx(1 / (phy.BIT_RATE / 8))
    assert phy.TURNAROUND_S == pytest.approx(192e-6)
    assert phy.UNIT_BACKOFF_S == pytest.approx(320e-6)
    assert phy.CCA_S == pytest.approx(128e-6)
    assert phy.MAC_ACK_WAIT_S == pytest.approx(864e-6)
    assert (phy.MAC_MIN_BE, phy.MAC_MAX_BE, phy.MAC_MAX_CSMA_BACKOFFS) == (3, 5, 4)
    assert phy.MAC_MAX_FRAME_RETRIES == 3


def test_ack_arrives_within_ack_wait() -> None:
    """The ACK ends turnaround + ACK airtime after the data frame: inside macAckWaitDuration."""
    assert phy.TURNAROUND_S + phy.airtime(phy.ACK_PSDU) < phy.MAC_ACK_WAIT_S
