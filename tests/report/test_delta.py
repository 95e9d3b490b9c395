"""Two runs compared: B - A and its percentage, hand-checked; variants in one run only are
listed; JSON, Markdown and a self-contained delta.html."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from testbed.errors import BadInput, TestbedError
from testbed.experiment.results import Percentiles, Readings
from testbed.report import RunDelta, compare_runs, write_delta_report
from tests.report.runs import coap, write_run, xmpp


def _run_b(directory: Path, readings: int = 4) -> Path:
    x = xmpp()
    better = replace(
        x, readings=Readings(expected=8, sent=8, delivered=7,
                             latency_ms=Percentiles(p50=33.0, p95=200.0)),
        air=replace(x.air, per_reading={"readings": 7, "bytes": 450.0, "frames": 9.0}),
        energy={**x.energy, "per_reading_mj": {"protocol": 20.0},
                "lifetime_days": {"s1": 5.0, "s2": 4.5}},
    )
    return write_run(directory, variants={"xmpp-message": better, "coap-get": coap()},
                     run_id="d4e5f6", readings=readings)


@pytest.fixture
def delta(synthetic_run: Path, tmp_path: Path) -> RunDelta:
    return compare_runs(synthetic_run, _run_b(tmp_path / "b"))


def test_deltas_hand_checked(delta: RunDelta) -> None:
    assert [v.variant for v in delta.variants] == ["xmpp-message"]
    assert (delta.only_a, delta.only_b) == (("coap-observe-non",), ("coap-get",))
    v = delta.variants[0]
    expected = {  # key: (A, B, B - A, %, change)
        "delivered": (8, 7, -1, -12.5, "worse"),
        "steady_bytes_per_reading": (600.0, 450.0, -150.0, -25.0, "better"),
        # all-in: 13200 B on the air incl. PHY over 8, then over 7 delivered readings
        "all_in_bytes_per_reading": (1650.0, 13200 / 7, 13200 / 7 - 1650, 100 / 7, "worse"),
        "frames_per_reading": (12.0, 9.0, -3.0, -25.0, "better"),
        "setup_bytes": (6000, 6000, 0, 0.0, "same"),
        "energy_mj_per_reading": (25.0, 20.0, -5.0, -20.0, "better"),
        "lifetime_days": (4.0, 4.5, 0.5, 12.5, "better"),
        "latency_p50_ms": (30.0, 33.0, 3.0, 10.0, "worse"),
        "latency_p95_ms": (200.0, 200.0, 0.0, 0.0, "same"),
    }
    assert [f.key for f in v.figures] == list(expected)
    for key, (a, b, d, pct, change) in expected.items():
        f = v.figure(key)
        assert (f.a, f.b, f.change) == (pytest.approx(a), pytest.approx(b), change), key
        assert f.delta == pytest.approx(d), key
        assert f.delta_pct == pytest.approx(pct), key
    with pytest.raises(KeyError):
        v.figure("bytes_per_reading")  # the old, ambiguous key
    assert delta.notes == ()
    assert (delta.a.run_id, delta.b.run_id) == ("a1b2c3", "d4e5f6")


def test_missing_figures_and_zero_baselines_have_no_percentage(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", variants={"coap-get": replace(coap(), energy={})})
    b = write_run(tmp_path / "b", variants={"coap-get": coap()})
    v = compare_runs(a, b).variants[0]
    energy = v.figure("energy_mj_per_reading")
    assert (energy.a, energy.delta, energy.change) == (None, None, "n/a")
    no_setup = write_run(tmp_path / "c", variants={"coap-get": replace(
        coap(), air=replace(coap().air, setup={"bytes": 0, "frames": 0}))})
    f = compare_runs(no_setup, b).variants[0].figure("setup_bytes")
    assert (f.a, f.b, f.delta, f.delta_pct) == (0, 600, 600, None)


def test_runs_that_are_not_like_for_like_are_noted(synthetic_run: Path, tmp_path: Path) -> None:
    delta = compare_runs(synthetic_run, _run_b(tmp_path / "b", readings=10))
    assert any("differ in readings (4 every 0.5 s and 10 every 0.5 s)" in n for n in delta.notes)


def test_json_round_trips_and_markdown_shows_the_rows(delta: RunDelta) -> None:
    data = json.loads(json.dumps(delta.to_json()))
    figures = data["variants"]["xmpp-message"]
    assert figures["steady_bytes_per_reading"] == {
        "label": "bytes/reading (steady, incl. PHY)", "unit": "B", "a": 600.0, "b": 450.0,
        "delta": -150.0, "delta_pct": -25.0, "change": "better"}
    assert figures["all_in_bytes_per_reading"]["a"] == 1650.0
    assert "bytes_per_reading" not in figures and "mj_per_reading" not in figures
    assert data["only_a"] == ["coap-observe-non"] and data["only_b"] == ["coap-get"]
    text = delta.markdown()
    assert "| xmpp-message | bytes/reading (steady, incl. PHY) (B) | 600 | 450 | -150 | -25.0 % " \
           "| better |" in text
    assert "| xmpp-message | lifetime (days) | 4.00 | 4.50 | +0.50 | +12.5 % | better |" in text
    assert "Only in A: coap-observe-non" in text and "Only in B: coap-get" in text


def test_delta_html_is_self_contained(delta: RunDelta, tmp_path: Path) -> None:
    path = write_delta_report(delta, tmp_path / "out")
    assert path == tmp_path / "out" / "delta.html"
    text = path.read_text()
    assert "http://" not in text and "https://" not in text and "<script src" not in text
    assert text.count("<script") == 1
    assert 'id="plot-delta"' in text and text.count("<path") > 10
    assert "-25.0 %" in text and "only in A: coap-observe-non" in text


def test_a_delta_that_cannot_be_written_is_a_testbed_error_naming_it(
        delta: RunDelta, tmp_path: Path) -> None:
    (tmp_path / "out" / "delta.html").mkdir(parents=True)
    with pytest.raises(TestbedError, match=r"/out/delta\.html: cannot write the report"):
        write_delta_report(delta, tmp_path / "out")
    assert not [p for p in (tmp_path / "out").iterdir() if ".tmp" in p.name]
    (tmp_path / "file").write_text("")
    with pytest.raises(TestbedError, match=r"/file/out: cannot create the report directory"):
        write_delta_report(delta, tmp_path / "file" / "out")


def test_a_bad_run_is_bad_input_naming_its_file(synthetic_run: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"/nothing: not a results\.json"):
        compare_runs(synthetic_run, tmp_path / "nothing")
