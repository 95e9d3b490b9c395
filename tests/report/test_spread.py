"""report/spread.py: the median and its order-statistic interval, checked by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.report.spread import Spread, differ, median_interval


def test_five_repeats_by_hand():
    """n = 5: no k > 1 keeps 95 % (k = 2 gives 1 - 2 * 6/32 = 62.5 %), so the interval is
    [min, max] with confidence 1 - 2/32 = 93.75 %; the median is the third value."""
    s = median_interval([672, 640, 701, 655, 690])
    assert (s.median, s.low, s.high, s.n) == (672, 640, 701, 5)
    assert s.confidence == pytest.approx(0.9375)


def test_ten_repeats_by_hand():
    """n = 10: P(B < 2) = 11/1024, so [x(2), x(9)] has 1 - 22/1024 = 97.85 %; k = 3 would
    give 1 - 2 * 56/1024 = 89.1 %. Median = mean of the 5th and 6th values."""
    s = median_interval([10, 1, 9, 2, 8, 3, 7, 4, 6, 5])
    assert (s.median, s.low, s.high) == (5.5, 2, 9)
    assert s.confidence == pytest.approx(1 - 22 / 1024)


def test_one_value_and_none():
    s = median_interval([3.0])
    assert (s.median, s.low, s.high, s.confidence) == (3.0, 3.0, 3.0, 0.0)
    with pytest.raises(ValueError):
        median_interval([])


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40))
def test_the_interval_holds_the_median_and_keeps_its_level(values):
    s = median_interval(values)
    assert s.low <= s.median <= s.high
    assert min(values) <= s.low and s.high <= max(values)
    if len(values) >= 6:
        assert s.confidence >= 0.95


def test_differ_only_without_overlap():
    a = Spread(10, 8, 12, 5, 0.94, ())
    assert differ(a, Spread(20, 13, 25, 5, 0.94, ()))
    assert not differ(a, Spread(20, 12, 25, 5, 0.94, ()))  # touching counts as overlap
    assert not differ(a, Spread(9, 7, 11, 5, 0.94, ()))


def _repeats_of_the_sample(tmp_path):
    """Five copies of the sample run, latency p50 of xmpp-message scaled per repeat: a run
    whose spread we know by construction of its inputs."""
    import dataclasses
    import shutil
    from pathlib import Path

    from testbed.experiment.results import Percentiles, read_results, write_results

    sample = Path(__file__).parent / "data" / "sample-run"
    run_dir = tmp_path / "run"
    shutil.copytree(sample, run_dir)
    runs = []
    for i, scale in enumerate((1.0, 0.9, 1.2, 1.1, 0.8)):
        results = read_results(sample)
        v = results.variants["xmpp-message"]
        latency = dataclasses.replace(v.readings.latency_ms, p50=31.672 * scale)
        v = dataclasses.replace(v, readings=dataclasses.replace(v.readings, latency_ms=latency))
        results.variants["xmpp-message"] = v
        runs.append(dataclasses.replace(results, seed=1 + i))
        assert isinstance(latency, Percentiles)
    return run_dir, runs, write_results


def test_a_repeated_run_carries_medians_and_intervals_to_every_report(tmp_path):
    from dataclasses import replace

    from testbed.experiment.results import read_results
    from testbed.report import render_report
    from testbed.report.spread import spread_section
    from testbed.report.verdict import verdict_lines

    run_dir, runs, write_results = _repeats_of_the_sample(tmp_path)
    section = spread_section(runs, [".", *(f"repeats/r{i}" for i in range(2, 6))])
    write_results(replace(runs[0], repeats=section), run_dir)
    results = read_results(run_dir)
    p50 = results.repeats["variants"]["xmpp-message"]["latency_p50_ms"]
    # by hand: 31.672 x (0.8, 0.9, 1.0, 1.1, 1.2): median 31.672, interval = the range
    assert p50["median"] == pytest.approx(31.672)
    assert (p50["low"], p50["high"]) == (pytest.approx(25.3376), pytest.approx(38.0064))
    assert p50["confidence"] == 0.9375 and results.repeats["seeds"] == [1, 2, 3, 4, 5]
    # the other figures did not move: a zero-width interval at the single run's value
    steady = results.repeats["variants"]["coap-get"]["steady_bytes_per_reading"]
    assert steady["low"] == steady["high"] == steady["median"] == 269.75
    lines = verdict_lines(results)
    assert any("latency p50 is lower for coap-observe-non" in line
               and "intervals do not overlap" in line for line in lines), lines
    files = render_report(run_dir)
    html, markdown = files.html.read_text(), files.markdown.read_text()
    assert 'id="spread-table"' in html and 'id="plot-spread"' in html
    assert "31.7 [25.3, 38.0]" in html and "31.7 [25.3, 38.0]" in markdown
    assert "confidence 93.8 %" in markdown


def test_overlapping_intervals_name_no_difference():
    from testbed.experiment.results import Results
    from testbed.report.spread import spread_verdict

    results = Results(run_id="x", topology="t", seed=1, readings=3, interval_s=1.0, repeats={
        "n": 3, "seeds": [1, 2, 3], "variants": {
            "coap-get": {"latency_p50_ms": Spread(10, 8, 14, 3, 0.75, ()).to_json()},
            "xmpp-message": {"latency_p50_ms": Spread(12, 9, 20, 3, 0.75, ()).to_json()}}})
    assert spread_verdict(results) == [
        "Over 3 repeats, latency p50 of xmpp-message (12.0 [9.0, 20.0] ms) and coap-get "
        "(10.0 [8.0, 14.0] ms) cannot be told apart: the intervals overlap."]
