"""Bring-up and tear-down time of the emulated backend on 50- and 100-node grids.

Goal: 100 nodes up in <= 15 s, down in <= 5 s. Prints seconds per size and the ratio of the
100-node to the 50-node figure (how bring-up scales on this machine). Needs CAP_NET_ADMIN.

    .venv/bin/python benchmarks/bench_bringup.py [SIZES...]     # default: 50 100
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from testbed.backends.emulated import EmulatedNetwork
from testbed.backends.netns import require_net_admin
from testbed.config.generate import grid
from testbed.experiment.run import REGISTRY_ENV, Run

GOAL_UP_S = {100: 15.0}
GOAL_DOWN_S = {100: 5.0}


def measure(n: int, out: str) -> tuple[float, float]:
    """Seconds to bring an n-node grid up (medium READY, routes in) and to tear it down."""
    topology = grid(n)
    run = Run.create(topology_name=topology.name, out=out, argv=[sys.argv[0], str(n)])
    start = time.perf_counter()
    with EmulatedNetwork.up(topology, run=run, seed=1):
        up_s = time.perf_counter() - start
        start = time.perf_counter()
    return up_s, time.perf_counter() - start

def main(argv: list[str]) -> int:
    require_net_admin()
    sizes = [int(a) for a in argv] or [50, 100]
    with tempfile.TemporaryDirectory(prefix="bench-bringup-") as out:
        os.environ.setdefault(REGISTRY_ENV, os.path.join(out, "registry"))
        figures = {}
        for n in sizes:
            up_s, down_s = figures[n] = measure(n, out)
            goal = ""
            if n in GOAL_UP_S:
                ok = up_s <= GOAL_UP_S[n] and down_s <= GOAL_DOWN_S[n]
                goal = f"  goal up <= {GOAL_UP_S[n]} s, down <= {GOAL_DOWN_S[n]} s: " + (
                    "met" if ok else "MISSED"
                )
            print(f"{n:4d} nodes: up {up_s:6.2f} s  down {down_s:6.2f} s{goal}", flush=True)
        if 50 in figures and 100 in figures:
            print(f"ratio 100/50: up {figures[100][0] / figures[50][0]:.2f}  "
                  f"down {figures[100][1] / figures[50][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
