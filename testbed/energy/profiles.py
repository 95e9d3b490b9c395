"""Platform profiles: the currents a node draws in each radio and CPU state, with sources.

What it is: frozen `Profile` records in one registry (`PROFILES`), each figure in mA at the
profile's supply voltage, each with the document it comes from (see REFERENCES.md
"Radio currents"). What it is not: a model of when a node is in which state (radio_model.py,
energest.py) nor of the energy (report.py).

Listen current = RX current: an IEEE 802.15.4 receiver that is on and waiting for a preamble
runs the same receive chain as one receiving a frame (CC2420 datasheet §"Electrical
specifications": one "receive mode" figure), unless a datasheet gives a separate figure.

Sources
    [CC2420]   TI/Chipcon CC2420 datasheet SWRS041c, "Electrical Specifications" table:
               RX 18.8 mA, TX 17.4 mA at 0 dBm, idle 426 µA, power down 20 µA.
    [COOJA]    Contiki / Cooja Tmote Sky energy scripts (REFERENCES.md): CPU 1.8 mA, LPM
               0.0545 mA (MSP430F1611 at its Contiki clock); the CPU/LPM figures of the Sky
               profile are these Cooja figures, not read from the MSP430 datasheet.
    [AT86RF231] Atmel AT86RF231 datasheet 8111C, Table "Current consumption": TX 14 mA at
               +3 dBm, RX_ON 12.3 mA, TRX_OFF 0.4 mA, SLEEP 0.02 µA.
    [NRF52840] Nordic nRF52840 Product Specification v1.x, §"Radio current consumption"
               (802.15.4, DC/DC, 3 V): TX 6.40 mA at 0 dBm, RX 6.53 mA; System ON sleep
               ~1.5 µA; CPU running from flash with cache ~3.3 mA (52 µA/MHz x 64 MHz).
    [CC2538]   TI CC2538 datasheet SWRS096D, §1.1 Features / §5.4 Electrical Characteristics:
               active-mode TX 0 dBm 24 mA, active-mode RX 20 mA, PM2 1.3 µA (REFERENCES.md's
               "commonly" figures; the datasheet text could not be read back in this session,
               only its table of contents: `verified=False`).
    [STM32F103] ST STM32F103xB datasheet (IoT-LAB M3's MCU), run mode 72 MHz from flash,
               peripherals off ~27 mA; Stop mode ~0.024 mA (not checked here: `verified=False`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from testbed.errors import BadInput

VOLTAGE_V = 3.0


class RadioState(StrEnum):
    """States the radio model and Energest report time for."""

    TX = "tx"
    RX = "rx"
    LISTEN = "listen"
    SLEEP = "sleep"


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Currents (mA) of one platform at `voltage_v`; `sources` cites each figure."""

    name: str
    title: str
    tx_ma: float
    rx_ma: float
    listen_ma: float
    sleep_ma: float
    cpu_ma: float
    lpm_ma: float
    voltage_v: float = VOLTAGE_V
    sources: tuple[str, ...] = ()
    verified: bool = True  # every figure checked against the cited document

    def radio_ma(self, state: RadioState | str) -> float:
        return {
            RadioState.TX: self.tx_ma, RadioState.RX: self.rx_ma,
            RadioState.LISTEN: self.listen_ma, RadioState.SLEEP: self.sleep_ma,
        }[RadioState(state)]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "title": self.title, "voltage_v": self.voltage_v,
            "current_ma": {"tx": self.tx_ma, "rx": self.rx_ma, "listen": self.listen_ma,
                           "sleep": self.sleep_ma, "cpu": self.cpu_ma, "lpm": self.lpm_ma},
            "sources": list(self.sources), "verified": self.verified,
        }


CC2420 = Profile(
    name="cc2420", title="Tmote Sky (MSP430F1611 + CC2420)",
    # "sleep" is where the RDC driver leaves the radio between wake-ups: Contiki's cc2420.c
    # off() strobes SRFOFF, i.e. idle with the oscillator running (426 uA), not power-down
    tx_ma=17.4, rx_ma=18.8, listen_ma=18.8, sleep_ma=0.426, cpu_ma=1.8, lpm_ma=0.0545,
    sources=("CC2420 SWRS041c: TX 0 dBm 17.4 mA, RX 18.8 mA, idle 426 uA (Contiki's "
             "off() = SRFOFF leaves the chip idle; power down 20 uA is not used)",
             "Cooja Sky energy figures: CPU 1.8 mA, LPM 0.0545 mA"),
)
AT86RF231 = Profile(
    name="at86rf231", title="FIT IoT-LAB M3 (STM32F103 + AT86RF231)",
    tx_ma=14.0, rx_ma=12.3, listen_ma=12.3, sleep_ma=0.00002, cpu_ma=27.0, lpm_ma=0.024,
    sources=("AT86RF231 8111C: TX +3 dBm 14 mA, RX_ON 12.3 mA, SLEEP 0.02 uA",
             "STM32F103xB: run 72 MHz ~27 mA, Stop ~24 uA (not verified)"),
    verified=False,
)
NRF52840 = Profile(
    name="nrf52840", title="nRF52840 (802.15.4 mode, DC/DC)",
    tx_ma=6.40, rx_ma=6.53, listen_ma=6.53, sleep_ma=0.0015, cpu_ma=3.3, lpm_ma=0.0015,
    sources=("nRF52840 PS: TX 0 dBm 6.40 mA, RX 6.53 mA (802.15.4, DC/DC, 3 V)",
             "nRF52840 PS: System ON sleep ~1.5 uA; CPU from flash ~3.3 mA"),
)
CC2538 = Profile(
    name="cc2538", title="TI CC2538 (Cortex-M3 + 802.15.4)",
    tx_ma=24.0, rx_ma=20.0, listen_ma=20.0, sleep_ma=0.0013, cpu_ma=13.0, lpm_ma=0.0013,
    sources=("CC2538 SWRS096D §1.1/§5.4: TX 0 dBm 24 mA, RX 20 mA, PM2 1.3 uA (not read back)",
             "CPU active 13 mA at 32 MHz (not verified)"),
    verified=False,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (CC2420, AT86RF231, NRF52840, CC2538)}
DEFAULT_PROFILE = CC2420.name


def get_profile(name: str) -> Profile:
    """The profile called `name`; BadInput naming the known ones otherwise."""
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise BadInput(f"unknown energy profile {name!r}: expected one of "
                       f"{', '.join(PROFILES)}") from None
