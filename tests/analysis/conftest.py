"""The comparison run the slow analysis tests read (tshark agreement, acceptance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.experiment.results import Results


@pytest.fixture(scope="session")
def comparison(default_comparison: tuple[Path, Results]) -> tuple[Path, Results]:
    """Every variant on topologies/default.yaml (tests/conftest.py), shared with tests/e2e."""
    return default_comparison
