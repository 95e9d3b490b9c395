"""Power-meter streams: parsing with noise, missing fields and truncated lines; integration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.energy.meters import (
    Sample, integrate, parse_oml, parse_ppk2_csv, parse_serial_lines,
)
from testbed.errors import BadInput

from .recordings import OML_HEADER, oml_row


def test_trapezoid_by_hand() -> None:
    samples = [Sample(0.0, 0.02, 3.0), Sample(0.5, 0.02, 3.0), Sample(1.0, 0.04, 3.0)]
    result = integrate(samples)
    # 0.5 s x 60 mW + 0.5 s x (60 + 120)/2 mW = 30 + 45 mJ
    assert result.energy_j == pytest.approx(0.075)
    assert result.charge_c == pytest.approx(0.025)
    assert result.mean_current_a == pytest.approx(0.025)
    assert result.gaps == () and result.period_s == 0.5


def test_gaps_beyond_n_periods_are_reported_and_bridged() -> None:
    samples = [Sample(t, 0.01, 3.0) for t in (0.0, 0.001, 0.002, 0.003, 0.010, 0.011)]
    result = integrate(samples, period_s=0.001, gap_periods=3)
    assert [(g.start_s, round(g.duration_s, 6)) for g in result.gaps] == [(0.003, 0.007)]
    assert result.energy_j == pytest.approx(0.03 * 0.011)
    assert integrate(samples[:1]).energy_j == 0.0


def test_serial_lines_keep_good_samples_and_name_the_rest() -> None:
    text = "\n".join([
        "t_s,current_mA,bus_V",       # header: skipped silently
        "0.000 18.8 3.0",
        "\x00\x13 noise from the UART",
        "0.001,18.8",                 # missing field
        "0.001 17.4 3.0  # comment",
        "0.00",                       # truncated
        "0.0005 1 3.0",               # time goes back
        "0.002 nan 3.0",
        "0.002\t17.4\t3.0",
    ])
    trace = parse_serial_lines(text)
    assert [s.t_s for s in trace.samples] == [0.0, 0.001, 0.002]
    assert trace.samples[1].current_a == pytest.approx(0.0174)
    why = {s.line: s.reason for s in trace.skipped}
    assert why == {3: "not numbers", 4: "2 fields, expected 3 (t_s current_mA bus_V)",
                   6: "1 fields, expected 3 (t_s current_mA bus_V)",
                   7: "time 0.0005 not after 0.001", 8: "not a finite number"}


def test_oml_rows_with_noise_missing_columns_and_truncation() -> None:
    rows = [oml_row(1, 0.0, 0.02), "garbage", oml_row(2, 0.5, 0.02), oml_row(3, 0.75, 0.02)[:20],
            oml_row(4, 1.0, 0.04), "1.0\t1\t5\t1491480499\t500000\t9.9\t3.0\t0.04"]
    trace = parse_oml(OML_HEADER + "\n".join(rows) + "\n")
    assert [round(s.t_s - 1491480498, 6) for s in trace.samples] == [0.0, 0.5, 1.0]
    assert integrate(trace.samples).energy_j == pytest.approx(0.075)
    why = {s.line: s.reason for s in trace.skipped}
    assert why == {11: "not numbers", 13: "4 columns, expected 8",
                   15: "power != voltage x current"}


def test_oml_without_its_header_end_is_bad_input() -> None:
    with pytest.raises(BadInput, match="no 'content: text'"):
        parse_oml("protocol: 4\ndomain: 1\n")


def test_ppk2_csv_export() -> None:
    text = "Timestamp(ms),Current(uA),D0-D7\n0.00,1000,00000000\n0.01,2000\n0.0\n0.02,abc\n"
    trace = parse_ppk2_csv(text, voltage_v=3.0)
    assert [s.current_a for s in trace.samples] == [0.001, 0.002]
    assert {s.line: s.reason for s in trace.skipped} == {4: "missing the current field",
                                                         5: "not numbers"}


def _not_a_serial_sample(text: str) -> bool:
    return parse_serial_lines(text).samples == ()


serial_noise = st.text(max_size=30).filter(_not_a_serial_sample)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parsers_never_crash(text: str) -> None:
    parse_serial_lines(text)
    parse_ppk2_csv(text, voltage_v=3.0)
    try:
        parse_oml(text)
    except BadInput:
        pass
    parse_oml(OML_HEADER + text)


@settings(max_examples=200, deadline=None)
@given(st.lists(serial_noise, min_size=4, max_size=4))
def test_good_serial_samples_survive_garbage_between_them(noise: list[str]) -> None:
    good = ["0.0 10 3.0", "0.1 20 3.0", "0.2 30 3.0"]
    text = "\n".join(["t_s current_mA bus_V", noise[0], good[0], noise[1], good[1], noise[2],
                      good[2], noise[3]])
    trace = parse_serial_lines(text)
    assert [s.current_a for s in trace.samples] == [0.01, 0.02, 0.03]


oml_noise = st.text(max_size=40).filter(lambda t: parse_oml(OML_HEADER + t).samples == ())


@settings(max_examples=200, deadline=None)
@given(st.lists(oml_noise, min_size=3, max_size=3))
def test_good_oml_rows_survive_garbage_between_them(noise: list[str]) -> None:
    rows = [oml_row(1, 0.0, 0.02), oml_row(2, 0.5, 0.02), oml_row(3, 1.0, 0.04)]
    text = OML_HEADER + "\n".join([noise[0], rows[0], noise[1], rows[1], noise[2], rows[2]])
    assert len(parse_oml(text).samples) == 3


def test_a_first_line_that_only_starts_with_t_is_reported_not_taken_for_the_header() -> None:
    from testbed.energy.meters import parse_serial_lines

    trace = parse_serial_lines("total garbage\n0.0 1.0 3.0\n0.1 1.0 3.0\n")
    assert len(trace.samples) == 2 and [k.line for k in trace.skipped] == [1]
    assert parse_serial_lines("t_s,current_mA,bus_V\n0.0 1.0 3.0\n").skipped == ()


def test_oml_power_only_profile_integrates_the_power_column() -> None:
    """IoT-LAB can be set to measure power alone: voltage and current columns are 0."""
    from testbed.energy.meters import integrate, parse_oml

    header = "protocol: 5\nschema: 1 consumption ...\ncontent: text\n\n"
    rows = "".join(f"{0.001 * i:.6f} 1 {i} 100 {i * 1000} 0.150000 0 0\n" for i in range(11))
    trace = parse_oml(header + rows + "0.02 1 11 100 11000 0 0 0\n")
    assert len(trace.samples) == 11 and [k.line for k in trace.skipped] == [16]
    assert integrate(trace.samples).energy_j == pytest.approx(0.150 * 0.010)


