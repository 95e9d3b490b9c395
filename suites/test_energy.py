"""Radio energy per reading and battery lifetime, per variant, from the radio's activity log
under a platform profile (default: Tmote Sky's CC2420) and a duty-cycling mode.

    pytest suites/test_energy.py --topology topologies/default.yaml
"""

from __future__ import annotations

import pytest

from testbed.experiment.variants import Variant

pytestmark = pytest.mark.slow


def test_the_protocols_radio_time_is_priced_at_the_profiles_currents(energy, testbed) -> None:
    """mJ/reading from the sensors' own TX and RX seconds (results.json nodes) and the
    profile's currents, worked out here: E = V x (tx_s x I_tx + rx_s x I_rx) / delivered
    (always-on: no listening is the protocol's); the lifetime from the whole charge."""
    if energy.mode != "always-on":
        pytest.skip("the hand formula is the always-on one (run without --rdc)")
    current, volts = energy["profile"]["current_ma"], energy["profile"]["voltage_v"]
    sensors = set(testbed.sensors())
    nodes = {n: f for n, f in energy["nodes"].items() if n in sensors}
    delivered = sum(f["delivered"] for f in nodes.values())
    assert set(nodes) == sensors and delivered > 0
    by_hand = sum(f["tx_s"] * current["tx"] + f["rx_s"] * current["rx"]
                  for f in nodes.values()) * volts / delivered
    assert energy.per_reading_mj == pytest.approx(by_hand, rel=1e-3, abs=1e-3)
    assert energy["idle_floor_mj"] == pytest.approx(current["listen"] * testbed.interval_s
                                                    * volts, rel=1e-3)
    for name, days in energy.lifetime_days.items():  # I = whole charge / span, at most listen
        assert days == pytest.approx(energy["battery"]["capacity_mah"] / current["listen"] / 24,
                                     rel=0.05), name


@pytest.mark.variant("coap-get", "coap-observe-con", "coap-observe-non")
def test_duty_cycling_saves_energy_for_coap(energy, results) -> None:
    """A CoAP sensor mostly waits: ContikiMAC's channel checks instead of an always-on
    receiver cut its energy per reading and lengthen its battery life."""
    always = energy.under(mode="always-on")
    duty = energy.under(mode="contikimac")
    results.record("contikimac_mj_per_reading", duty.total_mj, unit="mJ")
    assert duty.total_mj < always.total_mj
    # what it costs: the strobes send a frame again and again, so the protocol's own radio
    # time grows while the idle floor shrinks far more
    assert duty.per_reading_mj > always.per_reading_mj
    assert duty["idle_floor_mj"] < always["idle_floor_mj"] / 10
    for sensor, days in duty.lifetime_days.items():
        assert days > always.lifetime_days[sensor], sensor


@pytest.mark.variant("coap-observe-non")
def test_coap_observe_non_spends_less_energy_per_reading_than_xmpp_message(
        energy, testbed, variant) -> None:
    """Duty-cycled, the traffic decides: fewer, shorter frames cost less (always-on, idle
    listening hides the difference)."""
    if str(Variant.XMPP_MESSAGE) not in testbed.results.variants:
        pytest.skip("compares with xmpp-message: run with --variants coap-observe-non,xmpp-message")
    xmpp = testbed.energy(Variant.XMPP_MESSAGE).under(mode="contikimac")
    assert energy.under(mode="contikimac").per_reading_mj < xmpp.per_reading_mj
