"""The testbed checks what the sink got against what the node made (experiment/truth.py).

One reading's value is corrupted in the sink's record after it arrived, before the run
measures: the run must report exactly that reading as a mismatch, still delivered, and the
report must show it. The other direction, every real reading matching, is checked on every
variant of the default comparison (test_compare.py) and on the Contiki runs (test_contiki.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config.topology import parse_topology
from testbed.experiment.results import read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.variants import Variant
from testbed.report import render_report
from tests.topologies import TWO_SENSORS

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (root)")]

VARIANT = Variant.COAP_GET


class CorruptOneValue:
    """At tear-down (every reading in, nothing measured yet) s1's reading 2 gets +1.0."""

    def __init__(self) -> None:
        self.run_dir: Path | None = None
        self.corrupted: dict | None = None

    def started(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def phase(self, variant: Variant, what: str) -> None:
        if what != "tear-down" or self.run_dir is None:
            return
        path = self.run_dir / str(variant) / "deliveries.jsonl"
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            if record["node"] == "s1" and record["seq"] == 2 and self.corrupted is None:
                record["value"] = round(record["value"] + 1.0, 1)
                self.corrupted = record
        path.write_text("".join(json.dumps(r) + "\n" for r in records))

    def delivered(self, variant: Variant, delivered: int, expected: int) -> None:
        pass

    def finished(self, variant: Variant, result: object) -> None:
        pass


def test_one_corrupted_value_is_one_mismatch_and_the_report_says_so(tmp_path: Path) -> None:
    observer = CorruptOneValue()
    run_dir = run_comparison(parse_topology(TWO_SENSORS, "two-sensors.yaml"),
                             variants=(VARIANT,), readings=3, interval_s=0.5, seed=4,
                             out=tmp_path, observer=observer)
    assert observer.corrupted is not None, "the sink never recorded s1's reading 2"
    readings = read_results(run_dir).variants[str(VARIANT)].readings
    assert (readings.delivered, readings.mismatched) == (6, 1), readings
    assert "6/6 (1 wrong)" in render_report(run_dir).markdown.read_text()
