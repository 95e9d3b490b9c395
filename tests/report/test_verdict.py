"""The verdict in words follows the data (runs.py's table): no conclusion is hard-coded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from testbed.experiment.results import Readings, VariantResult, read_results
from testbed.report.verdict import verdict_lines
from tests.report.runs import coap, write_run, xmpp


def test_synthetic_run_in_words(synthetic_run: Path) -> None:
    delivery, air, energy, memory = verdict_lines(read_results(synthetic_run))
    assert delivery == "Every variant delivered all 8 readings it sent."
    assert air.startswith("coap-observe-non costs the fewest bytes per reading: 150 B")
    assert "(xmpp-message, 600 B) costs 4.0× the leanest CoAP variant" in air
    assert "1,650 B (xmpp-message) against 280 B (coap-observe-non), 5.9×" in air  # PHY in
    assert energy == ("coap-observe-non needs the least radio time per reading: 20.0 mJ (its own "
                      "TX and RX, the idle floor apart). XMPP at best 25.0 mJ (xmpp-message), CoAP 20.0 mJ (coap-observe-non): "
                      "1.25×.")
    assert memory == ("Memory: bytecode xmpp-sensor 14,000 B against coap-sensor 9,000 B (1.6×); "
                      "coap-sensor fits the 10,000 B heap of micropython-test (uses 7,000 B); "
                      "xmpp-sensor does not fit the 10,000 B heap of micropython-test "
                      "(compile+import xmltok).")


def test_when_xmpp_is_leaner_the_verdict_says_so(tmp_path: Path) -> None:
    lean = replace(xmpp(), air=replace(xmpp().air, per_reading={"readings": 8, "bytes": 100.0,
                                                                 "frames": 2.0}))
    run_dir = write_run(tmp_path / "run", variants={"coap-get": coap(), "xmpp-iq": lean})
    air = verdict_lines(read_results(run_dir))[1]
    assert air.startswith("xmpp-iq costs the fewest bytes per reading: 100 B")
    assert "costs 0.7× the leanest CoAP variant" in air  # 100 / 150


def test_similar_energy_on_an_always_on_radio(tmp_path: Path) -> None:
    close = replace(xmpp(), energy={**xmpp().energy, "per_reading_mj": {"protocol": 20.4}})
    run_dir = write_run(tmp_path / "run", variants={"coap-get": coap(), "xmpp-iq": close})
    energy = verdict_lines(read_results(run_dir))[2]
    assert energy == "Radio time per reading hardly differs: 20.0 to 20.4 mJ across variants (2.0%)."


def test_losses_and_failures_are_named(tmp_path: Path) -> None:
    lossy = replace(coap(), readings=Readings(sent=8, delivered=6), timed_out=True)
    failed = replace(xmpp(), error="prosody: no TCP")
    run_dir = write_run(tmp_path / "run", variants={"coap-observe-non": lossy,
                                                     "xmpp-iq": failed})
    lines = verdict_lines(read_results(run_dir))
    assert lines[0] == "Lost readings: coap-observe-non 6/8 (timed out); failed: xmpp-iq."
    assert "xmpp-iq" not in lines[1]  # a failed variant wins nothing


def test_one_variant_is_stated_not_ranked(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", variants={"coap-get": coap()})
    lines = verdict_lines(read_results(run_dir))
    assert lines[:3] == ["coap-get delivered all 8 readings it sent.",
                         "coap-get costs 150 B per reading on the air in steady state "
                         "(3.0 frames).",
                         "coap-get needs 20.0 mJ of radio time per reading (its own TX and RX, the "
                         "idle floor apart)."]
    text = " ".join(lines)
    for comparative in ("hardly differs", "across variants", "fewest", "least", "leanest",
                        "Every variant", "×"):
        assert comparative not in text, comparative


def _with(variant: VariantResult, *, delivered: int = 8, steady: float,
          mj: float) -> VariantResult:
    """`variant` with `delivered` of its 8 readings, `steady` B and `mj` mJ a reading."""
    return replace(variant, readings=replace(variant.readings, delivered=delivered),
                   air=replace(variant.air, per_reading={"readings": delivered,
                                                         "bytes": steady, "frames": 3.0}),
                   energy={**variant.energy, "per_reading_mj": {"protocol": mj}})


def test_a_lossy_variant_ranks_behind_those_that_delivered_everything(tmp_path: Path) -> None:
    """coap-get lost readings and so looks cheapest per delivered reading: it is no winner."""
    run_dir = write_run(tmp_path / "run", variants={
        "coap-get": _with(coap(), delivered=6, steady=100.0, mj=10.0),
        "coap-observe-con": _with(coap(), steady=200.0, mj=22.0),
        "xmpp-message": _with(xmpp(), steady=600.0, mj=30.0),
    })
    delivery, air, energy, _ = verdict_lines(read_results(run_dir))
    assert delivery == "Lost readings: coap-get 6/8."
    assert air.startswith("coap-observe-con costs the fewest bytes per reading: 200 B")
    assert "the leanest CoAP variant (coap-observe-con, 200 B)" in air
    assert "costs 3.0× the leanest CoAP variant" in air
    assert energy.startswith("coap-observe-con needs the least radio time per reading: 22.0")
    assert "coap-get" not in air + energy


def test_when_every_variant_lost_readings_the_ranking_says_so(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", variants={
        "coap-get": _with(coap(), delivered=1, steady=100.0, mj=10.0),
        "xmpp-iq": _with(xmpp(), delivered=7, steady=600.0, mj=30.0),
    })
    _, air, energy, _ = verdict_lines(read_results(run_dir))
    assert air.startswith("coap-get (lossy: 1/8 delivered) costs the fewest bytes per reading")
    assert "(xmpp-iq (lossy: 7/8 delivered), 600 B)" in air
    assert energy.startswith("coap-get (lossy: 1/8 delivered) needs the least radio time")


def test_the_duty_cycled_energy_headline_names_the_best_of_each_protocol() -> None:
    """From the sample run's energy.other_modes.contikimac (sensors' mJ per reading): by hand,
    the least CoAP is coap-observe-con 3.2577, the least XMPP xmpp-message 25.5557: 7.8x."""
    from testbed.experiment.results import read_results
    from testbed.report.verdict import verdict_lines

    run = Path(__file__).parent / "data" / "sample-run"
    lines = [line for line in verdict_lines(read_results(run)) if "duty-cycled" in line]
    assert lines == ["With a duty-cycled radio (ContikiMAC model, 125 ms wake-ups) the "
                     "protocols' own radio time decides: coap-observe-con needs 3.3 mJ per "
                     "reading, xmpp-message at best 25.6 mJ (7.8×)."]
