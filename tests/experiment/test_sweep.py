"""experiment/sweep.py: sizes, the figures kept per point, the growth fit; one real sweep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.errors import BadInput
from testbed.experiment.results import read_results
from testbed.experiment.sweep import growth, parse_sizes, point_figures

SAMPLE = Path(__file__).resolve().parents[1] / "report" / "data" / "sample-run"


def test_sizes_are_sorted_unique_and_at_least_two() -> None:
    assert parse_sizes("25, 5,50,5") == (5, 25, 50)
    for bad in ("", "1,5", "five"):
        with pytest.raises(BadInput, match="--sizes"):
            parse_sizes(bad)


def test_a_points_figures_come_from_its_results() -> None:
    """By hand from the sample run's coap-get: 12 of 12 delivered, per_reading.bytes 269.75,
    3,330 bytes on the air / 12 = 277.5, ContikiMAC sensors' 3.711 mJ, latency p50 5.64 ms."""
    figures = point_figures(read_results(SAMPLE).variants["coap-get"])
    assert figures == {"delivery": 1.0, "steady B/rdg": 269.75, "all-in B/rdg": 277.5,
                       "mJ/rdg duty-cycled": 3.711, "set-up ms p50": None,
                       "latency ms p50": 5.64}


def test_growth_reads_the_exponent_of_each_variant_and_figure() -> None:
    """Bytes doubling with N (b = 1) and latency constant (b = 0), by construction."""
    points = {str(n): {"nodes": n, "variants": {"v": {"steady B/rdg": 10.0 * n,
                                                      "latency ms p50": 7.0,
                                                      "delivery": 0.0}}}
              for n in (5, 10, 20)}
    fits = {g["figure"]: g for g in growth(points)}
    assert fits["steady B/rdg"]["b"] == pytest.approx(1.0) and fits["steady B/rdg"]["growth"] \
        == "O(N)"
    assert fits["latency ms p50"]["b"] == pytest.approx(0.0)
    assert "delivery" not in fits  # nothing above zero to fit on a log axis


@pytest.mark.slow
@pytest.mark.needs_root
@pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)")
def test_a_small_sweep_runs_each_size_and_reports_growth(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "testbed.cli", "sweep", "--sizes", "2,4", "--variants",
         "coap-observe-non", "--readings", "2", "--interval", "0.5", "--out", str(tmp_path),
         "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert sorted(data["points"]) == ["2", "4"]
    for n, p in data["points"].items():
        assert p["variants"]["coap-observe-non"]["delivery"] > 0, (n, p)
        assert (Path(data["run_directory"]) / p["run"] / "results.json").is_file()
    assert {g["figure"] for g in data["growth"]} >= {"steady B/rdg", "all-in B/rdg"}
    html = Path(data["report"]).read_text()
    assert html.count("<svg") >= 3 and "Growth with N" in html
