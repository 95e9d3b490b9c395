"""Topologies made in code rather than written by hand: grids for the bring-up benchmark.

A 100-node grid is tedious and error-prone as YAML, and a benchmark wants any size; the result
is the same frozen `Topology` a file gives, checked by the same validators.
"""

from __future__ import annotations

import math

from testbed.config.topology import Node, Radio, Role, Topology


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
