"""Grids made in code for the bring-up benchmark."""

from __future__ import annotations

import math

import pytest

from testbed.config.generate import grid
from testbed.config.topology import Role


@pytest.mark.parametrize("n", [1, 2, 7, 50, 100])
def test_grid_has_n_nodes_with_the_border_router_at_a_corner(n: int) -> None:
    topology = grid(n)
    assert len(topology.nodes) == n
    assert topology.border_router == "br"
    assert topology.nodes["br"].position == (0.0, 0.0)
    assert [topology.short_address(name) for name in topology.nodes] == list(range(1, n + 1))
    assert sum(node.role is Role.BORDER_ROUTER for node in topology.nodes.values()) == 1


def test_grid_links_are_the_four_neighbours() -> None:
    topology = grid(9)  # 3 x 3: 12 edges, centre n4 has 4 neighbours, corner br has 2
    assert len(topology.radio_links()) == 12
    assert sorted(topology.neighbours("n4")) == ["n1", "n3", "n5", "n7"]
    assert sorted(topology.neighbours("br")) == ["n1", "n3"]
    assert all(link.prr == 1.0 for link in topology.radio_links())


def test_incomplete_last_row_is_still_connected() -> None:
    topology = grid(7)  # 3 columns: rows of 3, 3, 1
    assert topology.neighbours("n6") == {"n3": 1.0}


def test_wider_range_adds_diagonals() -> None:
    assert len(grid(9, range_=15.0).radio_links()) == 12 + 8
    assert math.isclose(grid(4, spacing=2.0, range_=2.1).nodes["n3"].position[0], 2.0)


def test_empty_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one node"):
        grid(0)
