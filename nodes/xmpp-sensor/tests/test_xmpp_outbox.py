"""The outbox: readings wait in order, a full outbox hands back the oldest (to count as lost)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from outbox import LIMIT, Outbox


def test_readings_leave_oldest_first() -> None:
    outbox = Outbox(3)
    for seq in (1, 2, 3):
        assert outbox.put((seq, 0.0, [])) is None
    assert [outbox.pop()[0] for _ in range(3)] == [1, 2, 3]
    assert len(outbox) == 0 and outbox.peek() is None


def test_a_full_outbox_pushes_out_the_oldest() -> None:
    outbox = Outbox(2)
    outbox.put((1, 0.0, []))
    outbox.put((2, 0.0, []))
    assert outbox.put((3, 0.0, [])) == (1, 0.0, [])
    assert [r[0] for r in outbox.items] == [2, 3]


def test_the_default_bound() -> None:
    assert Outbox().limit == LIMIT == 32


def test_an_empty_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one reading"):
        Outbox(0)


@given(st.integers(1, 10), st.integers(0, 60))
def test_every_reading_is_kept_or_handed_back_exactly_once(limit: int, n: int) -> None:
    outbox = Outbox(limit)
    pushed_out = [r for r in (outbox.put((seq, 0.0, [])) for seq in range(1, n + 1)) if r]
    kept = [outbox.pop()[0] for _ in range(len(outbox))]
    assert [r[0] for r in pushed_out] + kept == list(range(1, n + 1))
    assert len(kept) == min(n, limit)


def test_requeued_readings_go_first_and_the_oldest_make_room():
    box = Outbox(limit=3)
    box.put((3, 0.0, ()))
    box.put((4, 0.0, ()))
    assert box.requeue([(1, 0.0, ()), (2, 0.0, ())]) == [(1, 0.0, ())]
    assert [box.pop()[0] for _ in range(len(box))] == [2, 3, 4]
    assert box.requeue([(5, 0.0, ())]) == []
