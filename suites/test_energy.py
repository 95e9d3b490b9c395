"""Radio energy per reading and battery lifetime, per variant, from the radio's activity log
under a platform profile (default: Tmote Sky's CC2420) and a duty-cycling mode.

    pytest suites/test_energy.py --topology topologies/default.yaml
"""

from __future__ import annotations

import pytest

from testbed.experiment.variants import Variant

pytestmark = pytest.mark.slow


def test_energy_figures_are_there_for_every_sensor(energy, testbed) -> None:
    assert energy.per_reading_mj is not None and energy.per_reading_mj > 0
    assert set(energy.lifetime_days) == set(testbed.sensors())
    assert all(days is not None and days > 0 for days in energy.lifetime_days.values())


def test_recomputing_with_the_same_settings_gives_the_same_figures(energy) -> None:
    assert energy.under().per_reading_mj == pytest.approx(energy.per_reading_mj)


@pytest.mark.variant("coap-get", "coap-observe-con", "coap-observe-non")
def test_duty_cycling_saves_energy_for_coap(energy, results) -> None:
    """A CoAP sensor mostly waits: ContikiMAC's channel checks instead of an always-on
    receiver cut its energy per reading and lengthen its battery life."""
    always = energy.under(mode="always-on")
    duty = energy.under(mode="contikimac")
    results.record("contikimac_mj_per_reading", duty.per_reading_mj, unit="mJ")
    assert duty.per_reading_mj < always.per_reading_mj
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
