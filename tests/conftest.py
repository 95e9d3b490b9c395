"""Fixtures shared across tests/: the default comparison run, made once per session.

tests/analysis (tshark agreement, every byte once) and tests/e2e (delivery, air figures against
tshark) read the same kind of run; one run of every variant on topologies/default.yaml serves
both and saves the suite a whole comparison (about 40 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config.topology import load_topology
from testbed.experiment.results import Results, read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.variants import Variant

TOPOLOGIES = Path(__file__).resolve().parents[1] / "topologies"
DEFAULT_READINGS = 3  # per sensor; topologies/default.yaml has three sensors


@pytest.fixture(scope="session")
def default_comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results]:
    """Every variant on topologies/default.yaml, DEFAULT_READINGS readings per sensor every
    0.5 s."""
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN: run as root (sudo make test)")
    run_dir = run_comparison(load_topology(TOPOLOGIES / "default.yaml"), variants=tuple(Variant),
                             readings=DEFAULT_READINGS, interval_s=0.5,
                             out=tmp_path_factory.mktemp("default-compare"))
    return run_dir, read_results(run_dir)
