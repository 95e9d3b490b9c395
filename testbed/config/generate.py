"""Topologies made in code rather than written by hand: grids for the bring-up benchmark.

A 100-node grid is tedious and error-prone as YAML, and a benchmark wants any size; the result
is the same frozen `Topology` a file gives, checked by the same validators.
"""

from __future__ import annotations

import math

from testbed.config.topology import Link, Node, Radio, Role, Topology


def grid(n: int, spacing: float = 10.0, range_: float = 10.5) -> Topology:
    """`n` nodes row by row on a square-ish grid, unit-disk links, border router `br` at a corner.

    With the defaults (range just over the spacing, well under the diagonal) each node hears its
    4-neighbours only, so the far corner is about 2*sqrt(n) hops from the border router.
    Nodes are `br`, `n1` ... `n<n-1>`, short addresses 1..n in that order.
    """
    if n < 1:
        raise ValueError(f"a grid needs at least one node (got {n})")
    columns = math.ceil(math.sqrt(n))
    nodes = {}
    for i in range(n):
        name = "br" if i == 0 else f"n{i}"
        row, column = divmod(i, columns)
        nodes[name] = Node(
            name=name,
            role=Role.BORDER_ROUTER if i == 0 else Role.SENSOR,
            position=(column * spacing, row * spacing),
        )
    return Topology(name=f"grid-{n}", radio=Radio(range=range_), nodes=nodes)


def clique(n: int) -> Topology:
    """`n` nodes that all hear each other (one hop, the densest PAN): on a circle of 5 m with a
    20 m range. Border router `br`, then `n1` ... `n<n-1>`."""
    if n < 1:
        raise ValueError(f"a clique needs at least one node (got {n})")
    nodes = {}
    for i in range(n):
        name = "br" if i == 0 else f"n{i}"
        angle = 2 * math.pi * i / n
        nodes[name] = Node(name=name, role=Role.BORDER_ROUTER if i == 0 else Role.SENSOR,
                           position=(5.0 * math.cos(angle), 5.0 * math.sin(angle)))
    return Topology(name=f"clique-{n}", radio=Radio(range=20.0), nodes=nodes)


def with_loss(topology: Topology, loss: float) -> Topology:
    """The same PAN with every radio link losing `loss` of its frames (explicit links)."""
    if not 0.0 <= loss < 1.0:
        raise ValueError(f"loss {loss}: expected 0 <= loss < 1")
    if loss == 0.0:
        return topology
    links = tuple(Link(a=link.a, b=link.b, prr=round(1.0 - loss, 6))
                  for link in topology.radio_links())
    fields = {name: getattr(topology, name) for name in type(topology).model_fields}
    fields.update(links=links, name=f"{topology.name}-loss{loss:g}")
    return Topology(**fields)  # anew: a copy would keep the cached neighbour tables
