"""A lab of real boards has no medium: a variant's energy comes from the sensors' own Energest
(testbed.energy.report.energest_energy_section). Hand-written consoles with known tick counts,
priced with the profile's currents, are the expectation; a real native-board console's clock
(microseconds) is told from a CC2538's (32768 Hz) by its summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.energy.energest import ticks_per_second_of
from testbed.energy.profiles import get_profile
from testbed.energy.report import energest_energy_section
from testbed.errors import BadInput


def summary(n: int, *, hz: int, seconds: int, tx_s: float, rx_s: float) -> str:
    total = seconds * hz
    tx, rx = round(tx_s * hz), round(rx_s * hz)
    lines = [f"--- Period summary #{n} ({seconds} seconds)", f"Total time  : {total:>10}"]
    for name, value in (("CPU", total // 100), ("LPM", total - total // 100), ("Deep LPM", 0),
                        ("Radio Tx", tx), ("Radio Rx", rx), ("Radio total", tx + rx)):
        lines.append(f"{name:<12}: {value:>10}/{total:>10} ({value * 1000 // total} permil)")
    return "\n".join(f"[INFO: Energest  ] {line}" for line in lines)


def write_variant(directory: Path, *, hz: int) -> None:
    logs = directory / "logs"
    logs.mkdir(parents=True)
    (logs / "s1.console").write_text("Starting Contiki-NG\n" + summary(0, hz=hz, seconds=10,
        tx_s=0.5, rx_s=9.5) + "\n" + summary(1, hz=hz, seconds=10, tx_s=0.5, rx_s=9.0) + "\n")
    (logs / "s1.jsonl").write_text("".join(
        json.dumps({"event": "reading", "seq": i, "t": 1.0 + i}) + "\n" for i in (1, 2, 3, 4)))
    (directory / "deliveries.jsonl").write_text("".join(
        json.dumps({"node": "s1", "seq": i}) + "\n" for i in (1, 2, 3)))


@pytest.mark.parametrize("hz", [32768, 1_000_000])
def test_a_sensors_energy_is_its_energest_radio_time_at_the_profiles_currents(
        tmp_path: Path, hz: int) -> None:
    write_variant(tmp_path, hz=hz)
    nodes, energy = energest_energy_section(tmp_path, sensors=["s1"], interval_s=1.0)
    p = get_profile(energy["profile"]["name"])
    # 20 s: TX 1 s, listening 18.5 s, radio off 0.5 s
    expected = (1.0 * p.tx_ma + 18.5 * p.listen_ma + 0.5 * p.sleep_ma) * p.voltage_v
    assert nodes["s1"]["energy_mj"] == pytest.approx(expected, rel=1e-3)
    assert (nodes["s1"]["tx_s"], nodes["s1"]["rx_s"]) == (pytest.approx(1.0), pytest.approx(18.5))
    assert energy["source"] == "energest" and energy["span_s"] == pytest.approx(20.0)
    assert energy["nodes"]["s1"]["delivered"] == 3 and energy["other_modes"] == {}


def test_the_clock_is_told_by_the_summaries() -> None:
    assert ticks_per_second_of(summary(0, hz=1_000_000, seconds=10, tx_s=1, rx_s=1)) == 1_000_000
    assert ticks_per_second_of(summary(0, hz=32768, seconds=60, tx_s=1, rx_s=1)) == 32768
    assert ticks_per_second_of("no summary here") == 32768


def test_no_energest_at_all_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "s1.console").write_text("Starting Contiki-NG\n")
    with pytest.raises(BadInput, match="no sensor console holds a complete Energest period"):
        energest_energy_section(tmp_path, sensors=["s1"], interval_s=1.0)
