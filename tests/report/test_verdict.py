"""The verdict in words follows the data (runs.py's table): no conclusion is hard-coded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from testbed.experiment.results import Readings, read_results
from testbed.report.verdict import verdict_lines
from tests.report.runs import coap, write_run, xmpp


def test_synthetic_run_in_words(synthetic_run: Path) -> None:
    delivery, air, energy, memory = verdict_lines(read_results(synthetic_run))
    assert delivery == "Every variant delivered all 8 readings it sent."
    assert air.startswith("coap-observe-non costs the fewest bytes per reading: 150 B")
    assert "(xmpp-message, 600 B) costs 4.0× the leanest CoAP variant" in air
    assert "1,500 B (xmpp-message) against 250 B (coap-observe-non), 6.0×" in air
    assert energy == ("coap-observe-non needs the least radio energy per reading: 20.0 mJ. "
                      "XMPP at best 25.0 mJ (xmpp-message), CoAP 20.0 mJ (coap-observe-non): "
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
    close = replace(xmpp(), energy={**xmpp().energy, "per_reading_mj": {"sensors": 20.4}})
    run_dir = write_run(tmp_path / "run", variants={"coap-get": coap(), "xmpp-iq": close})
    energy = verdict_lines(read_results(run_dir))[2]
    assert energy.startswith("Energy per reading hardly differs: 20.0 to 20.4 mJ across "
                             "variants (2.0%): an always-on radio")


def test_losses_and_failures_are_named(tmp_path: Path) -> None:
    lossy = replace(coap(), readings=Readings(sent=8, delivered=6), timed_out=True)
    failed = replace(xmpp(), error="prosody: no TCP")
    run_dir = write_run(tmp_path / "run", variants={"coap-observe-non": lossy,
                                                     "xmpp-iq": failed})
    lines = verdict_lines(read_results(run_dir))
    assert lines[0] == "Lost readings: coap-observe-non 6/8 (timed out); failed: xmpp-iq."
    assert "xmpp-iq" not in lines[1]  # a failed variant wins nothing
