"""The run's topology drawn: nodes coloured by role, every radio link with its packet
reception ratio, and the route-over tree toward the border router in bold.

Nodes sit at their positions when every node has one (metres); otherwise in layers by hop
count from the border router, each parent centred over its children (a tidy tree), so a
line, a star and a tree each look like themselves. What it is not: a routing decision; the
tree is `testbed.config.routes.route_tree`, the same the emulated network installs.
"""

from __future__ import annotations

from matplotlib.axes import Axes

from testbed.config.routes import RouteTree, route_tree
from testbed.config.topology import Link, Topology
from testbed.report.palette import ROLE_COLOURS
from testbed.report.plot import Plot, plain
from testbed.report.svg import new_figure, plot_style, to_svg

LABEL_ALL_LINKS = 40  # above this many links only the lossy ones (prr < 1) carry a label
ROUTE, OTHER_LINK, DASHED = "#37474f", "#b0b7bd", (0, (4, 3))


def layout(topology: Topology, tree: RouteTree) -> dict[str, tuple[float, float]]:
    """Positions from the file when all nodes have one, else a tidy tree by hop count."""
    if all(n.position is not None for n in topology.nodes.values()):
        return {name: (float(n.position[0]), float(n.position[1]))  # type: ignore[index]
                for name, n in topology.nodes.items()}
    xs: dict[str, float] = {}
    next_leaf = [0.0]

    def place(name: str) -> float:
        children = tree.children(name)
        if not children:
            xs[name] = next_leaf[0]
            next_leaf[0] += 1.0
        else:
            placed = [place(c) for c in children]
            xs[name] = (placed[0] + placed[-1]) / 2
        return xs[name]

    place(tree.root)
    return {name: (xs[name], -float(tree.hops[name])) for name in tree.parent}


def topology_plot(topology: Topology) -> Plot:
    tree = route_tree(topology)
    at = layout(topology, tree)
    links = topology.radio_links()
    positioned = _positioned(topology)
    with plot_style("plot-topology"):
        fig = new_figure(*_size(at, positioned))
        ax = fig.add_subplot()
        _draw_links(ax, links, at, tree)
        _draw_nodes(ax, topology, at)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8.5, labelspacing=0.9)
        ax.margins(x=0.12, y=0.2)
        ax.set_aspect("equal" if positioned else "auto")
        ax.axis("off")
        ax.set_title(plain(f"Topology {topology.name}: {len(topology.nodes)} nodes, "
                           f"channel {topology.radio.channel}, PAN 0x{topology.radio.pan_id:04x}"),
                     loc="left")
        svg = to_svg(fig, element_id="plot-topology")
    placed = "at their positions (m)" if positioned else "in layers by hop count"
    labelled = ("each link labelled with its packet reception ratio"
                if len(links) <= LABEL_ALL_LINKS else "lossy links (PRR < 1) labelled")
    return Plot(
        "plot-topology", "Topology",
        f"Nodes {placed}, coloured by role; {labelled}. Bold: the route-over tree toward the "
        f"border router {tree.root} (least total ETX, as the emulated network installs it).",
        svg)


def _positioned(topology: Topology) -> bool:
    return all(n.position is not None for n in topology.nodes.values())


def _size(at: dict[str, tuple[float, float]], positioned: bool) -> tuple[float, float]:
    """Inches: about 1.3 per tree column and 1.1 per hop, or the positions' aspect ratio;
    3 inches more for the legend."""
    xs, ys = [x for x, _ in at.values()], [y for _, y in at.values()]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    if positioned:
        return 9.0, min(6.5, max(3.0, 6.0 * span_y / span_x)) if span_x else 4.0
    return min(10.5, max(6.5, 1.3 * (span_x + 1) + 3.0)), min(6.5, max(2.8, 1.1 * span_y + 1.7))


def _draw_links(ax: Axes, links: tuple[Link, ...], at: dict[str, tuple[float, float]],
                tree: RouteTree) -> None:
    in_tree = {frozenset((n, p)) for n, p in tree.parent.items() if p is not None}
    for link in links:
        (xa, ya), (xb, yb) = at[link.a], at[link.b]
        bold = frozenset((link.a, link.b)) in in_tree
        ax.plot([xa, xb], [ya, yb], color=ROUTE if bold else OTHER_LINK,
                linewidth=3.2 if bold else 1.2, linestyle="-" if bold else DASHED, zorder=1,
                solid_capstyle="round")
        if len(links) <= LABEL_ALL_LINKS or link.prr < 1:
            ax.text((xa + xb) / 2, (ya + yb) / 2, f"PRR {link.prr:g}", fontsize=8, ha="center",
                    va="center", zorder=2, color="#b71c1c" if link.prr < 1 else "#455a64",
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white",
                          "edgecolor": "none", "alpha": 0.9})
    ax.plot([], [], color=ROUTE, linewidth=3.2, label="route toward border router")
    ax.plot([], [], color=OTHER_LINK, linewidth=1.2, linestyle=DASHED, label="other radio link")


def _draw_nodes(ax: Axes, topology: Topology, at: dict[str, tuple[float, float]]) -> None:
    for name, node in topology.nodes.items():
        x, y = at[name]
        role = str(node.role)
        ax.scatter([x], [y], s=900, color=ROLE_COLOURS.get(role, "#cccccc"), edgecolors="white",
                   linewidths=2, zorder=3)
        ax.text(x, y, plain(name), ha="center", va="center", fontsize=9, zorder=4,
                fontweight="bold", color="white" if role == "border-router" else "#1b1b1b")
    for role, colour in ROLE_COLOURS.items():
        ax.scatter([], [], s=80, color=colour, label=role)
