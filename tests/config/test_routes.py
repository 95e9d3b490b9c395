"""The route-over tree: least total ETX toward the border router, deterministic on ties."""

from __future__ import annotations

import pytest

from testbed.config.generate import grid
from testbed.config.routes import route_tree
from testbed.config.topology import parse_topology


def topology(links: str, nodes: str = "n1 n2 n3") -> object:
    body = "".join(f"  {n}: {{}}\n" for n in nodes.split())
    return parse_topology(f"name: t\nnodes:\n  br: {{role: border-router}}\n{body}links:\n{links}")


def test_line_is_a_chain() -> None:
    tree = route_tree(topology("  - [br, n1]\n  - [n1, n2]\n  - [n2, n3]\n"))
    assert tree.root == "br"
    assert tree.parent == {"br": None, "n1": "br", "n2": "n1", "n3": "n2"}
    assert tree.hops == {"br": 0, "n1": 1, "n2": 2, "n3": 3}
    assert tree.path_to_root("n3") == ("n3", "n2", "n1", "br")
    assert tree.children("n1") == ("n2",)
    assert tree.descendants("n1") == ("n2", "n3")
    assert tree.descendants("n3") == ()


def test_star_hangs_every_leaf_on_the_border_router() -> None:
    tree = route_tree(topology("  - [br, n1]\n  - [br, n3]\n  - [br, n2]\n"))
    assert tree.children("br") == ("n1", "n2", "n3")
    assert set(tree.hops.values()) == {0, 1}
    assert tree.descendants("br") == ("n1", "n2", "n3")


def test_lossy_direct_link_loses_to_a_better_two_hop_path() -> None:
    # diamond: n3 hears br directly at prr 0.4 (ETX 1/0.4² = 6.25) or via n1 at 1 + 1 (ETX 2.0)
    tree = route_tree(
        topology("  - [br, n1]\n  - [br, n2, {prr: 0.5}]\n  - [n1, n3]\n  - [n2, n3]\n  - [br, n3, {prr: 0.4}]\n")
    )
    assert tree.parent["n3"] == "n1"
    assert tree.hops["n3"] == 2
    assert tree.etx["n3"] == pytest.approx(2.0)


def test_good_enough_direct_link_beats_two_hops() -> None:
    # direct prr 0.75 is ETX 1/0.75² = 1.78 < 2.0 through n1
    tree = route_tree(topology("  - [br, n1]\n  - [n1, n3]\n  - [br, n3, {prr: 0.75}]\n  - [br, n2]\n"))
    assert tree.path_to_root("n3") == ("n3", "br")


def test_equal_etx_prefers_fewer_hops() -> None:
    # direct prr 1/√2 (ETX 1/prr² = 2.0) equals two perfect hops (ETX 2.0): one hop wins
    tree = route_tree(
        topology("  - [br, n1]\n  - [n1, n3]\n  - [br, n3, {prr: 0.7071067811865476}]\n  - [br, n2]\n")
    )
    assert tree.parent["n3"] == "br"


def test_equal_etx_and_hops_prefer_the_parent_name() -> None:
    # diamond with equal sides: n3 via n1 or n2, both ETX 2.0 in 2 hops; n1 sorts first
    links = "  - [br, n2]\n  - [br, n1]\n  - [n2, n3]\n  - [n1, n3]\n"
    assert route_tree(topology(links)).parent["n3"] == "n1"
    assert route_tree(topology(links, nodes="n3 n2 n1")).parent["n3"] == "n1", "file order does not matter"


def test_float_sums_in_different_order_still_tie() -> None:
    # 1/0.9 + 1 and 1 + 1/0.9 are the same ETX; the name must decide, not rounding noise
    links = "  - [br, n1, {prr: 0.9}]\n  - [n1, n3]\n  - [br, n2]\n  - [n2, n3, {prr: 0.9}]\n"
    assert route_tree(topology(links)).parent["n3"] == "n1"


def test_unknown_node_is_a_key_error_naming_it() -> None:
    tree = route_tree(topology("  - [br, n1]\n  - [n1, n2]\n  - [n2, n3]\n"))
    with pytest.raises(KeyError, match="'n9' is not in the route tree"):
        tree.path_to_root("n9")


def test_grid_tree_reaches_the_far_corner_in_manhattan_hops() -> None:
    tree = route_tree(grid(100))
    assert len(tree.parent) == 100
    assert tree.hops["n99"] == 18  # 9 right + 9 down on a 10 x 10 grid
    assert all(tree.path_to_root(n)[-1] == "br" for n in tree.parent)


def test_a_half_lossy_hop_costs_more_than_two_perfect_ones() -> None:
    # prr 0.5 loses data or ACK 3 times in 4: ETX 4 > 2 through n1
    tree = route_tree(topology("  - [br, n1]\n  - [n1, n3]\n  - [br, n3, {prr: 0.5}]\n  - [br, n2]\n"))
    assert tree.path_to_root("n3") == ("n3", "n1", "br")
    assert tree.etx["n3"] == pytest.approx(2.0)
