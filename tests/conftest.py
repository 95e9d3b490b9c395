"""Fixtures shared across tests/: the default comparison run, made once per session.

tests/analysis (tshark agreement, every byte once) and tests/e2e (delivery, air figures against
tshark) read the same kind of run; one run of every variant on topologies/default.yaml serves
both and saves the suite a whole comparison (about 40 s)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config.topology import load_topology
from testbed.experiment.results import Results, read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.variants import Variant

TOPOLOGIES = Path(__file__).resolve().parents[1] / "topologies"
DEFAULT_READINGS = 3  # per sensor; topologies/default.yaml has three sensors


def pytest_configure(config: pytest.Config) -> None:
    """A session started as a background job of a script (`make test &`) has SIGINT ignored,
    and an ignored signal stays ignored in every child: the tests that press Ctrl-C on a
    testbed process would wait for it in vain. Python's own handler here gives the children
    the default disposition back (exec resets handled signals, not ignored ones)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def default_comparison(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results]:
    """Every variant on topologies/default.yaml on the emulated testbed, at least
    DEFAULT_READINGS readings per sensor every 0.5 s.

    When the session's `testbed` experiment (the plugin's, which suites/ use) is that very
    comparison, as under `make test`, its run serves here too: one comparison fewer (~40 s).
    Under other options (--variants, --topology, a lab of boards) this fixture runs its own."""
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN: run as root (sudo make test)")
    topology = load_topology(TOPOLOGIES / "default.yaml")
    experiment = request.getfixturevalue("testbed")
    if (experiment.lab is None and experiment.topology == topology
            and set(experiment.variants) == set(Variant) and experiment.interval_s == 0.5
            and experiment.readings >= DEFAULT_READINGS):
        return experiment.run_dir, experiment.results
    run_dir = run_comparison(topology, variants=tuple(Variant), readings=DEFAULT_READINGS,
                             interval_s=0.5, out=tmp_path_factory.mktemp("default-compare"))
    return run_dir, read_results(run_dir)
