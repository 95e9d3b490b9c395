"""End-to-end fixtures: real networks from the topology files in topologies/."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.backends.emulated import EmulatedNetwork
from testbed.config.topology import Topology, load_topology
from testbed.contiki.build import medium_firmware
from testbed.experiment.run import Run

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


@pytest.fixture
def network(tmp_path: Path):
    """`with network("line-3hop") as net:` brings a topology up; the capture is complete after."""
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN: run as root (sudo make test)")

    @contextlib.contextmanager
    def _up(topology: str | Topology, seed: int = 1) -> Iterator[EmulatedNetwork]:
        if not isinstance(topology, Topology):
            topology = load_topology(TOPOLOGIES / f"{topology}.yaml")
        run = Run.create(
            topology_name=topology.name, topology_source=topology.source, seed=seed, out=tmp_path
        )
        with EmulatedNetwork.up(topology, run=run, seed=seed, firmware_for=medium_firmware) as net:
            yield net

    return _up
