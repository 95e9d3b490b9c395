"""The route-over tree toward the border router, computed from the topology.

The emulated network installs static routes instead of running RPL, so the orchestrator has to
pick each node's parent itself. It picks what RPL's MRHOF objective function would converge to
on a stable network (RFC 6719 §3): the path of least total ETX, where a link's expected
transmission count is 1 / (prr_forward × prr_reverse) (De Couto et al.; RFC 6551 §4.3.2):
the medium loses data frames and their ACKs alike, so with symmetric links it is 1 / prr².

Equal-cost paths are broken by fewer hops, then by the parent's name, so the same topology
always yields the same tree and a run can be repeated.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from testbed.config.topology import Topology

_ETX_DIGITS = 9  # round sums so that 1/0.9 + 1/1 and 1/1 + 1/0.9 tie as they should


@dataclass(frozen=True)
class RouteTree:
    """Each node's parent toward `root` (the border router), and its hop count to it."""

    root: str
    parent: dict[str, str | None]
    hops: dict[str, int]
    etx: dict[str, float] = field(default_factory=dict)  # total ETX of the path to the root

    def children(self, name: str) -> tuple[str, ...]:
        """Nodes whose parent is `name`, sorted by name."""
        self._known(name)
        return tuple(sorted(n for n, p in self.parent.items() if p == name))

    def descendants(self, name: str) -> tuple[str, ...]:
        """Every node whose path to the root passes through `name` (depth first, children by name).

        These are the destinations a router must hold a downward route for.
        """
        found: list[str] = []
        todo = list(reversed(self.children(name)))
        while todo:
            node = todo.pop()
            found.append(node)
            todo.extend(reversed(self.children(node)))
        return tuple(found)

    def path_to_root(self, name: str) -> tuple[str, ...]:
        """`name`, its parent, its parent's parent ... up to and including the root."""
        self._known(name)
        path = [name]
        while (up := self.parent[path[-1]]) is not None:
            path.append(up)
        return tuple(path)

    def _known(self, name: str) -> None:
        if name not in self.parent:
            raise KeyError(f"{name!r} is not in the route tree (nodes: {', '.join(self.parent)})")


def route_tree(topology: Topology) -> RouteTree:
    """Least-ETX tree toward the border router (Dijkstra from the root; links are symmetric).

    Ties: fewer hops, then the parent's name. Every candidate parent of a node has a strictly
    smaller cost (a link's ETX is at least 1), so all are settled before the node is, and the
    tie-break sees them all.
    """
    root = topology.border_router
    best: dict[str, tuple[float, int, str]] = {root: (0.0, 0, "")}
    parent: dict[str, str | None] = {root: None}
    settled: set[str] = set()
    queue = [(0.0, 0, root)]
    while queue:
        etx, hops, node = heapq.heappop(queue)
        if node in settled:
            continue
        settled.add(node)
        for peer, prr in sorted(topology.neighbours(node).items()):
            if peer in settled:
                continue
            candidate = (round(etx + 1.0 / (prr * prr), _ETX_DIGITS), hops + 1, node)
            if peer not in best or candidate < best[peer]:
                best[peer] = candidate
                parent[peer] = node
                heapq.heappush(queue, (candidate[0], candidate[1], peer))
    order = [n for n in topology.nodes if n in settled]  # file order, so dicts read naturally
    return RouteTree(
        root=root,
        parent={n: parent[n] for n in order},
        hops={n: best[n][1] for n in order},
        etx={n: best[n][0] for n in order},
    )
