"""`testbed meter`: a recording from outside a run integrated, figures worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import run_cli
from tests.energy.recordings import OML_HEADER, oml_row


def test_an_iot_lab_consumption_file_is_integrated(tmp_path: Path) -> None:
    """11 samples 1 ms apart at 3.3 V x 20 mA (0.066 W): 10 ms, 0.660 mJ, 20 mA mean; the
    row whose power is not voltage x current is skipped and named by its line."""
    rows = [oml_row(i, i / 1000, 0.020, voltage=3.3) for i in range(11)]
    bad = oml_row(99, 0.0045, 0.020, voltage=3.3).split("\t")
    bad[5] = "0.5"  # the power column, not 3.3 V x 20 mA
    rows.insert(5, "\t".join(bad))
    trace = tmp_path / "m3_7.oml"
    trace.write_text(OML_HEADER + "\n".join(rows) + "\n")
    done = run_cli("meter", str(trace))
    assert done.returncode == 0, done.stderr
    assert f"{trace} (oml): 0.660 mJ over 0.010 s, mean 20.000 mA, 11 samples every 1000 µs" \
        in done.stdout
    line = OML_HEADER.count("\n") + 6
    assert f"skipped line {line}: power != voltage x current" in done.stdout
    data = json.loads(run_cli("meter", str(trace), "--json").stdout)
    # epoch seconds in a double keep ~0.2 µs: 1 ppm of a 1 ms step
    assert abs(data["joules"] / (0.066 * 0.010) - 1) < 1e-5 and data["samples"] == 11
    assert data["skipped"] == [{"line": line, "why": "power != voltage x current"}]


def test_a_power_profiler_export_needs_its_voltage(tmp_path: Path) -> None:
    """PPK2 CSV rows hold µA only: 1,000 µA at 0..5 ms, 3,000 µA at 6..10 ms; at 3.0 V."""
    trace = tmp_path / "ppk2.csv"
    rows = [f"{t},{1000 if t <= 5 else 3000}" for t in range(11)]
    trace.write_text("Timestamp(ms),Current(uA)\n" + "\n".join(rows) + "\n")
    done = run_cli("meter", str(trace))
    assert done.returncode == 2 and "--voltage" in done.stderr and str(trace) in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    data = json.loads(run_cli("meter", str(trace), "--voltage", "3.0", "--json").stdout)
    # trapezoids: 5 ms at 1 mA, the 5->6 ms step averages 2 mA, 4 ms at 3 mA: 19 µC
    assert abs(data["charge_c"] - 19e-6) < 1e-12
    assert abs(data["joules"] - 3.0 * 19e-6) < 1e-12 and data["format"] == "ppk2-csv"


def test_nothing_to_integrate_is_one_line_and_exit_2(tmp_path: Path) -> None:
    trace = tmp_path / "meter.txt"
    trace.write_text("t_s current_mA bus_V\nhello there\n")
    done = run_cli("meter", str(trace))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"testbed: meter: {trace}: 0 good samples as serial-lines, "
                                   "need 2 to integrate; line 2: not numbers")
    missing = run_cli("meter", str(tmp_path / "absent.oml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bogus = run_cli("meter", str(trace), "--format", "csv")
    assert bogus.returncode == 2 and bogus.stderr.strip() == (
        "testbed: meter: --format csv: expected serial-lines, oml, ppk2-csv or auto")
