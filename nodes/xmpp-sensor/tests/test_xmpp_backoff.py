"""Reconnect backoff: ceilings grow base x factor^(k-1) up to the cap, delays are full jitter
within them, and the same node and seed repeat the same delays."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backoff import Backoff


def test_ceilings_double_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff("n1", 1)  # defaults: 1 s, x2, 15 s
    assert [backoff.ceiling(k) for k in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]


def test_delays_stay_within_each_attempts_ceiling_and_reset_restarts_them() -> None:
    backoff = Backoff("n1", 1, base_s=0.5, factor=3.0, cap_s=10.0)
    delays = [backoff.next_delay() for _ in range(6)]
    assert backoff.attempt == 6
    for k, delay in enumerate(delays, start=1):
        assert 0.0 <= delay < min(10.0, 0.5 * 3 ** (k - 1))
    backoff.reset()
    assert backoff.attempt == 0 and backoff.next_delay() < 0.5


def test_same_node_and_seed_repeat_other_nodes_differ() -> None:
    def delays(name: str, seed: int) -> list[float]:
        backoff = Backoff(name, seed)
        return [backoff.next_delay() for _ in range(5)]

    assert delays("n1", 1) == delays("n1", 1)
    assert delays("n1", 1) != delays("n2", 1)
    assert delays("n1", 1) != delays("n1", 2)


def test_jitter_spreads_sensors_over_the_whole_window() -> None:
    """Full jitter: 200 sensors' 5th attempts cover [0, 15) roughly evenly (no burst)."""
    fifth = []
    for i in range(200):
        backoff = Backoff(f"n{i}", 1)
        for _ in range(5):
            delay = backoff.next_delay()
        fifth.append(delay)
    quarters = [sum(1 for d in fifth if q * 3.75 <= d < (q + 1) * 3.75) for q in range(4)]
    assert all(25 <= n <= 75 for n in quarters), quarters


@given(st.text(max_size=20), st.integers(0, 2**32), st.integers(1, 40))
def test_any_node_any_attempt_is_within_the_cap(name: str, seed: int, attempts: int) -> None:
    backoff = Backoff(name, seed)
    for _ in range(attempts):
        assert 0.0 <= backoff.next_delay() < 15.0


@pytest.mark.parametrize("base, factor, cap", [(0.0, 2.0, 1.0), (1.0, 0.5, 4.0), (2.0, 2.0, 1.0)])
def test_a_schedule_that_cannot_work_is_refused(base: float, factor: float, cap: float) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff("n1", 1, base, factor, cap)
