"""Every topology shipped in topologies/ loads, says what it is for, and has the promised shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.config.routes import route_tree
from testbed.config.topology import load_topology

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
FILES = sorted(TOPOLOGIES.glob("*.yaml"))


def test_the_examples_exist() -> None:
    assert {p.name for p in FILES} >= {"default.yaml", "line-3hop.yaml", "lossy.yaml", "star-6.yaml"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_loads_and_starts_with_a_comment_header(path: Path) -> None:
    topology = load_topology(path)
    assert topology.name == path.stem
    assert path.read_text().startswith("# "), "each topology says what it is for in a comment header"
    assert set(route_tree(topology).parent) == set(topology.nodes)


def test_line_3hop_is_three_hops_deep() -> None:
    tree = route_tree(load_topology(TOPOLOGIES / "line-3hop.yaml"))
    assert tree.path_to_root("n3") == ("n3", "n2", "n1", "br")


def test_star_6_has_six_leaves_on_the_border_router() -> None:
    topology = load_topology(TOPOLOGIES / "star-6.yaml")
    assert len(topology.nodes) == 7
    assert route_tree(topology).children("br") == tuple(f"s{i}" for i in range(1, 7))


def test_lossy_has_one_lossy_hop() -> None:
    topology = load_topology(TOPOLOGIES / "lossy.yaml")
    assert topology.neighbours("n1") == {"br": 1.0, "n2": 0.7}


def test_default_has_a_two_hop_sensor_behind_a_router_and_one_lossy_link() -> None:
    topology = load_topology(TOPOLOGIES / "default.yaml")
    tree = route_tree(topology)
    sensors = [n for n, node in topology.nodes.items() if node.role == "sensor"]
    assert len(sensors) == 3
    assert sorted(tree.hops[s] for s in sensors) == [1, 1, 2]
    two_hop = next(s for s in sensors if tree.hops[s] == 2)
    assert topology.nodes[tree.parent[two_hop]].role == "router"
    assert [link.prr for link in topology.links if link.prr < 1.0] == [0.9]
