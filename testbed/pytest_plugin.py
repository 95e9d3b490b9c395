"""pytest plugin: bring emulated 802.15.4 networks up from a test, and always tear them down.

First cut (issue 01): options `--topology`, `--seed`, `--report-dir`, and fixtures
`topology` (the `--topology` file, loaded) and `bring_up` (a factory that brings any topology
up as an `EmulatedNetwork` for the duration of the test). Registered under the `pytest11`
entry point, so a lab's own suite gets it by installing the package.

The plugin stays thin: it only turns options into calls of `testbed.experiment` and
`testbed.backends`; it measures nothing itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.backends.emulated import EmulatedNetwork
from testbed.config.topology import Topology, load_topology
from testbed.errors import TopologyError
from testbed.experiment.run import Run

BringUp = Callable[..., EmulatedNetwork]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "IoT protocol testbed (emulated 802.15.4 / 6LoWPAN)")
    group.addoption("--topology", metavar="FILE", help="topology YAML for the `topology` fixture")
    group.addoption("--seed", type=int, default=1, help="seed of the radio medium (default 1)")
    group.addoption(
        "--report-dir",
        metavar="DIR",
        help="keep run directories (capture.pcap, radio.csv, logs) here; default: pytest's tmp",
    )


TOPOLOGY_KEY = pytest.StashKey[Topology]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: end-to-end run on the emulated testbed")
    path = config.getoption("--topology", default=None)
    if path:
        try:  # a bad file stops the session at once, with one line naming file:line:col
            config.stash[TOPOLOGY_KEY] = load_topology(path)
        except TopologyError as e:
            raise pytest.UsageError(str(e)) from None


@pytest.fixture(scope="session")
def topology(pytestconfig: pytest.Config) -> Topology:
    """The topology given with --topology (skips the test when there is none)."""
    if TOPOLOGY_KEY not in pytestconfig.stash:
        pytest.skip("no --topology given (pass --topology topologies/default.yaml)")
    return pytestconfig.stash[TOPOLOGY_KEY]


@pytest.fixture
def bring_up(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BringUp]:
    """Factory: `net = bring_up(topology_or_path, seed=...)`; torn down when the test ends.

    Skips with the fix when the process lacks CAP_NET_ADMIN.
    """
    if not netns.has_net_admin():
        pytest.skip("the emulated backend needs CAP_NET_ADMIN: run as root (sudo make test)")
    config = request.config
    out = config.getoption("--report-dir") or tmp_path_factory.mktemp("reports")
    with contextlib.ExitStack() as stack:

        def _bring_up(topology: Topology | str | Path, *, seed: int | None = None) -> EmulatedNetwork:
            if not isinstance(topology, Topology):
                topology = load_topology(topology)
            run_seed = config.getoption("--seed") if seed is None else seed
            run = Run.create(
                topology_name=topology.name,
                topology_source=topology.source,
                seed=run_seed,
                out=out,
            )
            return stack.enter_context(EmulatedNetwork.up(topology, run=run, seed=run_seed))

        yield _bring_up
