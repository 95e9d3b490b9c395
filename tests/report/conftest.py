"""Fixtures of the report tests: run directories in tmp (reports are written into them) and a
guard that no browser outlives a test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.report.screenshot import PROFILE_PREFIX, processes_using
from tests.report.runs import copy_sample, write_run


@pytest.fixture(autouse=True)
def no_leaked_browser() -> Iterator[None]:
    """Every browser a test starts has a profile dir named testbed-chromium-*; its processes
    (crash handlers included) must be gone shortly after the test."""
    before = set(processes_using(PROFILE_PREFIX))
    yield
    deadline = time.monotonic() + 5.0
    while (leaked := set(processes_using(PROFILE_PREFIX)) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leaked, f"browser processes left running: pids {sorted(leaked)}"


@pytest.fixture
def synthetic_run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "20261126-075052-a1b2c3")


@pytest.fixture
def sample_run(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "20261126-075052-18d80a")
