"""A grid of Contiki-NG nodes on the emulated air: bring-up, reachability, medium lateness, memory.

Every node runs Contiki-NG firmware for the medium platform (routers; the border router is
Contiki's rpl-border-router over SLIP). Prints, per size: seconds until the medium is up and the
border router has its prefix, seconds until every node is in the DODAG, how many nodes answer
a ping from the cloud (one echo each, in turn), the medium's lateness p50/p99/max (medium.json:
how late the real-time loop ran modelled events), and per node the resident memory of the
firmware process and the size of its ELF. The reference in the same process is the Linux PAN of
the same grid (bench_bringup.py's figure): the ratio says what Contiki nodes cost to bring up.

    .venv/bin/python benchmarks/bench_contiki_grid.py [SIZES...]     # default: 100
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

from testbed.backends.emulated import EmulatedNetwork
from testbed.backends.netns import require_net_admin
from testbed.config.generate import grid
from testbed.contiki.build import medium_firmware
from testbed.experiment.pingall import ping_all
from testbed.experiment.run import REGISTRY_ENV, Run


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(n: int, out: str) -> dict[str, object]:
    topology = grid(n).on_platform("contiki")
    run = Run.create(topology_name=topology.name, out=out, argv=[sys.argv[0], str(n)])
    start = time.perf_counter()
    with EmulatedNetwork.up(topology, run=run, seed=1, firmware_for=medium_firmware) as net:
        infrastructure_s = time.perf_counter() - start
        net.start_idle_nodes(timeout_s=1200.0)  # the far corner is ~18 hops away
        joined_s = time.perf_counter() - start
        assert net.contiki is not None
        rss = [_rss_kib(p.process.pid) for p in net.contiki.processes.values()]
        pings = ping_all(net, count=1, interval_s=0.2)
        reached = sum(1 for p in pings if p.ok)
        ping_s = time.perf_counter() - start - joined_s
    medium = json.loads(net.stats_path.read_text())
    lateness = medium["lateness"]
    elf = medium_firmware("router").stat().st_size
    linux_start = time.perf_counter()
    linux_run = Run.create(topology_name=f"grid-{n}-linux", out=out, argv=[sys.argv[0], str(n)])
    with EmulatedNetwork.up(grid(n), run=linux_run, seed=1):
        linux_s = time.perf_counter() - linux_start
    return {"n": n, "infrastructure_s": infrastructure_s, "joined_s": joined_s,
            "reached": reached, "ping_s": ping_s, "lateness": lateness,
            "rss_kib_median": statistics.median(rss), "rss_kib_max": max(rss), "elf_bytes": elf,
            "frames": medium.get("frames"), "linux_up_s": linux_s}


def main(argv: list[str]) -> int:
    require_net_admin()
    sizes = [int(a) for a in argv] or [100]
    with tempfile.TemporaryDirectory(prefix="bench-contiki-") as out:
        os.environ.setdefault(REGISTRY_ENV, os.path.join(out, "registry"))
        for n in sizes:
            f = measure(n, out)
            late = f["lateness"]
            print(f"{n:4d} Contiki nodes: border router up {f['infrastructure_s']:.1f} s, all in the "
                  f"DODAG {f['joined_s']:.1f} s ({f['joined_s'] / f['linux_up_s']:.1f}x the Linux "
                  f"grid's bring-up of {f['linux_up_s']:.1f} s); {f['reached']}/{n} answer a ping "
                  f"from the cloud ({f['ping_s']:.1f} s)", flush=True)
            print(f"     medium lateness: p50 {late['p50_s'] * 1e3:.2f} ms, p99 "
                  f"{late['p99_s'] * 1e3:.2f} ms, max {late['max_s'] * 1e3:.2f} ms over "
                  f"{late['events']} events; {f['frames']} data frames; load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
            print(f"     per node: RSS median {f['rss_kib_median']} KiB, max {f['rss_kib_max']} KiB;"
                  f" router ELF {f['elf_bytes']:,} B", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
