"""Platform profiles: the issue's figures, listen = RX, every profile cites its sources."""

from __future__ import annotations

import pytest

from testbed.energy.profiles import PROFILES, RadioState, get_profile
from testbed.errors import BadInput


@pytest.mark.parametrize(("name", "tx", "rx"), [
    ("cc2420", 17.4, 18.8), ("at86rf231", 14.0, 12.3), ("nrf52840", 6.40, 6.53),
    ("cc2538", 24.0, 20.0),
])
def test_the_issue_figures(name: str, tx: float, rx: float) -> None:
    p = get_profile(name)
    assert (p.tx_ma, p.rx_ma, p.voltage_v) == (tx, rx, 3.0)
    assert p.radio_ma(RadioState.LISTEN) == p.rx_ma  # an idle 802.15.4 receiver draws RX
    assert p.sleep_ma < p.listen_ma / 10  # off between wake-ups: far below listening
    assert p.lpm_ma < p.cpu_ma
    assert p.sources and all(p.sources)


def test_unverified_profiles_say_so() -> None:
    assert not PROFILES["cc2538"].verified and PROFILES["cc2420"].verified


def test_an_unknown_profile_is_bad_input_naming_the_known_ones() -> None:
    with pytest.raises(BadInput, match="unknown energy profile 'cc9999'.*cc2420"):
        get_profile("cc9999")


def test_cc2420_sleeps_in_idle_as_contiki_leaves_it() -> None:
    """Contiki's cc2420 off() strobes SRFOFF: idle with the oscillator on, 426 uA (SWRS041c),
    not the 20 uA power-down a driver would have to switch the regulator off for."""
    assert get_profile("cc2420").sleep_ma == 0.426
