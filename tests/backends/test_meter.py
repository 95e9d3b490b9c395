"""A board's power meter during a lab run: recorded as it comes, integrated afterwards.

No meter hardware is attached here, so the meter is a fake on a pty that prints the
serial-lines format of our INA219-style meter firmware (`<t_s> <current_mA> <bus_V>`): a mock,
the one this path needs; pyserial, the recorder's thread and the integration are the real
ones. (The PPK2 path needs the kit itself: not exercised here.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testbed.backends.meter import MeterRecorder
from testbed.config.lab import parse_lab
from testbed.energy.measured import measured_section
from tests.fake_meter import FakeMeter


def _board(port: str):  # type: ignore[no-untyped-def]
    lab = parse_lab(f"name: bench\nboards:\n  cc:\n    platform: contiki\n    port: /dev/x\n"
                    f"    meter: {{kind: serial-lines, port: {port}}}\n", "lab.yaml")
    return lab.boards["cc"]


def test_a_meters_samples_are_recorded_and_integrated_to_its_energy(tmp_path: Path) -> None:
    """A square wave of 10 and 30 mA (20 mA on average) at 3.3 V: the integral over the
    recorded span is 66 mW times that span, every sample kept, in the file as it came."""
    with FakeMeter(lambda i: 10.0 if (i // 5) % 2 == 0 else 30.0) as meter:
        recorder = MeterRecorder(_board(meter.port), tmp_path / "meters" / "s1.txt").start()
        time.sleep(1.0)
        recorder.stop()
    text = (tmp_path / "meters" / "s1.txt").read_text()
    rows = [line.split() for line in text.splitlines() if not line.startswith("#")]
    times = [float(t) for t, _, _ in rows]
    assert len(rows) > 40 and times == sorted(times)
    measured = measured_section(tmp_path)["s1"]
    # the trapezoid of a square wave sampled at its steps, computed here from the rows
    expected = sum((float(a[1]) + float(b[1])) / 2e3 * 3.3 * (float(b[0]) - float(a[0]))
                   for a, b in zip(rows, rows[1:]))
    assert measured["joules"] == pytest.approx(expected, rel=1e-6)
    assert measured["duration_s"] == pytest.approx(times[-1] - times[0], abs=1e-6)
    assert 15.0 < measured["mean_mA"] < 25.0
    # and without the trapezoid: 20 mA x 3.3 V over the span, give or take the half period
    # (five samples of 20 mA either way) the span may cut off at each end
    assert measured["joules"] == pytest.approx(0.020 * 3.3 * measured["duration_s"],
                                               abs=2 * 0.020 * 3.3 * 5 * 0.01)
    assert measured["samples"] == len(rows) and "error" not in measured
    assert "meter serial-lines on " + meter.port in measured["source"]


def test_a_meter_that_cannot_be_opened_is_a_figure_not_a_crash(tmp_path: Path) -> None:
    recorder = MeterRecorder(_board(str(tmp_path / "no-such-tty")),
                             tmp_path / "meters" / "s1.txt").start()
    recorder.stop()
    measured = measured_section(tmp_path)["s1"]
    assert "cannot open it" in measured["error"] and measured["samples"] == 0
