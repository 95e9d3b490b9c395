"""The topology drawn: a tidy tree by hop count (or the file's positions), roles, PRR labels,
the route tree in bold."""

from __future__ import annotations

from pathlib import Path

from testbed.config.routes import route_tree
from testbed.config.topology import load_topology, parse_topology
from testbed.report.topology_drawing import layout, topology_plot

ROOT = Path(__file__).resolve().parents[2]


def test_tidy_tree_by_hop_count() -> None:
    topology = load_topology(ROOT / "topologies" / "default.yaml")
    at = layout(topology, route_tree(topology))
    # br's children by name: r1 (with s3 below), s1, s2; each parent centred over its children
    assert at == {"s3": (0.0, -2.0), "r1": (0.0, -1.0), "s1": (1.0, -1.0), "s2": (2.0, -1.0),
                  "br": (1.0, 0.0)}


def test_positions_when_every_node_has_one() -> None:
    topology = parse_topology(
        "name: placed\nradio: {range: 15}\nnodes:\n  br: {role: border-router, position: [0, 0]}\n"
        "  a: {position: [10, 0]}\n  b: {position: [20, 5]}\n")
    assert layout(topology, route_tree(topology)) == {"br": (0.0, 0.0), "a": (10.0, 0.0),
                                                      "b": (20.0, 5.0)}


def test_plot_names_nodes_roles_and_link_quality() -> None:
    topology = load_topology(ROOT / "topologies" / "default.yaml")
    plot = topology_plot(topology)
    for text in ("br", "s3", "PRR 0.9", "PRR 1", "border-router", "router", "sensor",
                 "route toward border router", "Topology default: 5 nodes, channel 26"):
        assert f">{text}<" in plot.svg or text in plot.svg
    assert plot.svg.count("PRR ") == len(topology.radio_links())
    assert "in layers by hop count" in plot.caption and "border router br" in plot.caption
