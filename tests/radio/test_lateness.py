"""Lateness statistics of the live loop."""

from __future__ import annotations

import pytest

from testbed.radio.lateness import Lateness


def test_max_and_quantiles() -> None:
    late = Lateness()
    for _ in range(990):
        late.record(5e-6)
    for _ in range(10):
        late.record(0.002)
    late.record(3.0)  # beyond the histogram: still the max
    stats = late.as_dict()
    assert stats["events"] == 1001 and stats["max_s"] == 3.0
    assert stats["p50_s"] == pytest.approx(10e-6)
    assert stats["p99_s"] == pytest.approx(0.00201, abs=1e-5)


def test_empty() -> None:
    assert Lateness().as_dict() == {"events": 0, "max_s": 0.0, "p99_s": 0.0, "p50_s": 0.0}
