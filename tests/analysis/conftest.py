"""A real comparison run shared by the slow analysis tests (tshark agreement, acceptance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config.topology import load_topology
from testbed.experiment.results import Results, read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.variants import Variant

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


@pytest.fixture(scope="session")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results]:
    """Every variant on topologies/default.yaml, 2 readings per sensor every 0.5 s."""
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN: run as root (sudo make test)")
    run_dir = run_comparison(load_topology(TOPOLOGIES / "default.yaml"), variants=tuple(Variant),
                             readings=2, interval_s=0.5,
                             out=tmp_path_factory.mktemp("analysis-compare"))
    return run_dir, read_results(run_dir)
