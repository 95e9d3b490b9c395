"""`testbed study mdns`: how mDNS/DNS-SD discovery grows with the network, per RFC mechanism.

For every point of the sweep (size x density x transport x loss x mechanisms x seed; the
transport is link-local ff02::fb, or site-scope ff05::fb forwarded by MPL, RFC 7731, in the
multi-hop grid) a fresh emulated
network of that shape comes up and every node runs the node's own mDNS engine (one process
for all of them, experiment/mdns_swarm.py): each announces `_presence._tcp` "<node>@<node>"
and browses for the others, for `duration_s`. Measured per point, after the tear-down:
  - discovery time: from the start until a node knows every peer it can (clique: all others;
    grid: its radio neighbours over ff02::fb, every node over MPL), p50 / p95 / max over nodes
    (a node that never got there counts as never: the percentile is then None), and how many
    nodes got there;
  - traffic: mDNS frames and bytes on the air (the capture's analysis, purpose mdns), per node,
    in the start-up window (first STARTUP_S) and the steady rate after it, per node and hour;
  - collisions and channel-access failures (the medium's counters), radio TX/RX time and
    radio energy per node (the always-on radio model of testbed.energy);
  - what the engines say they sent, by kind (probe, announce, response, query, goodbye).
The growth of each figure with N is fitted per (density, loss, mechanisms) as a power law
y = a N^b by least squares on logs; b near 1 reads O(N), near 2 O(N^2) (growth_label).
results.json is rewritten after every point, so an interrupted study keeps what it measured.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from testbed.analysis.account import analyze_capture
from testbed.backends import netns as ns
from testbed.backends.emulated import EmulatedNetwork
from testbed.backends.processes import dies_with_parent, stop_process
from testbed.config import generate
from testbed.config.topology import Topology
from testbed.errors import BadInput, TestbedError
from testbed.experiment.results import percentile
from testbed.experiment.run import Run
from testbed.jsonlines import read_json_lines, write_json_atomic
from testbed.lowpan.addresses import link_local, mac48_text
from testbed.services.srp_server import SrpServer

MECHANISMS = ("probing", "announcing", "response_delay", "known_answer", "duplicate_answer",
              "rate_limit", "cache_refresh", "goodbye")  # nodes/xmpp-sensor/mdns.py's
DEFAULT_SIZES = (10, 25, 50, 100)
DEFAULT_DENSITIES = ("clique", "grid")
DEFAULT_LOSSES = (0.0,)
DEFAULT_SETS = ("all", "none")
DEFAULT_SEEDS = (1, 2)
DEFAULT_TRANSPORTS = ("link", "mpl", "srp")
TRANSPORTS = ("link", "mpl", "srp")
PLATFORMS = ("linux", "contiki")
#: Contiki points of the default sweep: the sizes where a Linux namespace per node costs most
DEFAULT_CONTIKI_SIZES = (50, 100, 200)
CONTIKI_APP = "mdns-node"  # nodes/contiki/mdns-node: lib/mdns alone
STOP_LINE = b"mdns-stop\n"  # mdns-node's console command: goodbyes, then the "sent" event
SENT_KINDS = ("probe", "announce", "response", "query", "goodbye")
DEFAULT_DURATION_S = 20.0
STARTUP_S = 10.0  # the start-up window: probing, announcing, the first queries
READY_TIMEOUT_S = 60.0
RESULTS = "results.json"


@dataclass(frozen=True, slots=True)
class Point:
    size: int
    density: str
    loss: float
    mechanisms: str  # "all", "none", or "no-<mechanism>"
    seed: int
    #: "link": ff02::fb, one hop; "mpl": ff05::fb forwarded by MPL; "srp": no mDNS, every
    #: node registers with the border router's SRP registrar and asks it by unicast DNS
    transport: str = "link"
    #: "linux": the Python engine, a namespace per node; "contiki": nodes/contiki/mdns-node
    #: firmware processes (lib/mdns, Contiki's netstack) on the medium's frame port
    platform: str = "linux"

    @property
    def name(self) -> str:
        over = "" if self.transport == "link" else f"-{self.transport}"
        on = "" if self.platform == "linux" else f"-{self.platform}"
        return (f"{self.density}-{self.size}-loss{self.loss:g}-{self.mechanisms}{over}{on}"
                f"-seed{self.seed}")

    def switches(self) -> dict[str, bool]:
        """The engine's `mechanisms` setting for this point."""
        if self.mechanisms == "all":
            return {}
        if self.mechanisms == "none":
            return {m: False for m in MECHANISMS}
        return {self.mechanisms.removeprefix("no-"): False}

    def topology(self) -> Topology:
        """The point's PAN; on Contiki the border router runs Contiki's rpl-border-router and
        every other node mdns-node, so N - 1 nodes take part (Linux: all N)."""
        shape = generate.clique if self.density == "clique" else generate.grid
        topology = generate.with_loss(shape(self.size), self.loss)
        return topology.on_platform("contiki") if self.platform == "contiki" else topology

    def defines(self) -> dict[str, str]:
        """The point's mechanisms as lib/mdns's compile-time switches (MDNS_CONF_<NAME>)."""
        return {f"MDNS_CONF_{m.upper()}": "0" for m, on in self.switches().items() if not on}


def parse_sets(text: str) -> tuple[str, ...]:
    """'all,none,no-known_answer' -> the mechanism sets; BadInput names an unknown one."""
    sets = tuple(s.strip() for s in text.split(",") if s.strip())
    for s in sets:
        if s not in ("all", "none") and s.removeprefix("no-") not in MECHANISMS:
            raise BadInput(f"mechanism set {s!r}: expected all, none or no-<mechanism> with "
                           f"one of {', '.join(MECHANISMS)}")
    return sets


def points(sizes: Sequence[int], densities: Sequence[str], losses: Sequence[float],
           sets: Sequence[str], seeds: Sequence[int],
           transports: Sequence[str] = ("link",),
           contiki_sizes: Sequence[int] = ()) -> list[Point]:
    """Every combination; MPL and SRP only where there are hops to cross (not in a clique),
    SRP with the first mechanism set only (the RFC 6762 mechanisms are mDNS's). Contiki
    points (`contiki_sizes`) are link-local only: lib/mdns has no MPL or SRP transport yet."""
    for t in transports:
        if t not in TRANSPORTS:
            raise BadInput(f"transport {t!r}: expected one of {', '.join(TRANSPORTS)}")
    for d in densities:
        if d not in ("clique", "grid"):
            raise BadInput(f"density {d!r}: expected clique or grid")
    for n in sizes:
        if n < 2:
            raise BadInput(f"size {n}: a study needs at least two nodes")
    for n in contiki_sizes:
        if n < 3:
            raise BadInput(f"Contiki size {n}: a Contiki study point needs at least three "
                           "nodes (the border router and two mdns-nodes)")
    for loss in losses:
        if not 0.0 <= loss < 1.0:
            raise BadInput(f"loss {loss:g}: expected 0 <= loss < 1")
    linux = [Point(n, d, loss, s, seed, t) for d, t, loss, s, n, seed
             in itertools.product(densities, transports, losses, sets, sizes, seeds)
             if not (d == "clique" and t != "link") and not (t == "srp" and s != sets[0])]
    contiki = [Point(n, d, loss, s, seed, "link", "contiki") for d, loss, s, n, seed
               in itertools.product(densities, losses, sets, contiki_sizes, seeds[:1])]
    return linux + contiki


# --- one point -----------------------------------------------------------------------------


def run_point(point: Point, *, run: Run, duration_s: float) -> dict[str, Any]:
    """Bring the point's network up, run every node's mDNS for `duration_s`, measure it."""
    if point.platform == "contiki":
        return run_contiki_point(point, run=run, duration_s=duration_s)
    topology = point.topology()
    directory = run.directory / point.name
    directory.mkdir(parents=True, exist_ok=True)
    events = directory / "events.jsonl"
    started = None
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(EmulatedNetwork.up(topology, run=run, seed=point.seed,
                                                     directory=directory))
        config = {"nodes": [{"name": n, "netns": net.netns(n),
                             "addresses": [str(link_local(topology.short_address(n))),
                                           str(net.address(n))],
                             "mac": mac48_text(topology.short_address(n))}
                            for n in topology.nodes],
                  "mechanisms": point.switches(), "seed": point.seed, "events": str(events),
                  "transport": point.transport}
        if point.transport == "srp":  # the registrar on the border router, up before any node
            br = topology.border_router
            stack.enter_context(SrpServer(netns=net.netns(br), log=directory / "srp.log",
                                          config={"port": 53}))
            config["registrar"] = str(net.address(br))
        config_path = directory / "swarm.json"
        config_path.write_text(json.dumps(config, indent=1))
        log = directory / "swarm.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                dies_with_parent([sys.executable, "-m", "testbed.experiment.mdns_swarm",
                                  str(config_path)]), stdout=out, stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parents[2],
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while b"READY" not in log.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise TestbedError(f"{point.name}: the mDNS swarm did not start; "
                                       f"log: {log}")
                time.sleep(0.05)
            started = time.time()
            deadline = time.monotonic() + duration_s
            while time.monotonic() < deadline:
                if process.poll() is not None:  # a swarm that died is no measurement
                    raise TestbedError(f"{point.name}: the mDNS swarm exited with status "
                                       f"{process.returncode} mid-point; log: {log}")
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        finally:
            stopped = time.time()  # the goodbyes after it are not steady traffic
            stop_process(process, 10.0)
    return measure_point(point, topology, directory, started or stopped, stopped)


def run_contiki_point(point: Point, *, run: Run, duration_s: float) -> dict[str, Any]:
    """The point on Contiki nodes: each node but the border router runs mdns-node, built with
    the point's mechanisms; their console events become the point's events.jsonl in the
    swarm's shape, so measure_point() reads both platforms alike."""
    from testbed.contiki.build import BuildOptions, Target, build_firmware, medium_firmware

    topology = point.topology()
    directory = run.directory / point.name
    directory.mkdir(parents=True, exist_ok=True)
    app = build_firmware(CONTIKI_APP, Target.MEDIUM, BuildOptions(defines=point.defines())).elf

    def firmware_for(name: str) -> Path:
        return app if name == CONTIKI_APP else medium_firmware(name)

    members = [n for n in topology.nodes if n != topology.border_router]
    started = stopped = None
    with EmulatedNetwork.up(topology, run=run, seed=point.seed, directory=directory,
                            firmware_for=firmware_for) as net:
        assert net.contiki is not None
        processes = {n: net.start_firmware(n, CONTIKI_APP, {"TESTBED_NAME": n})
                     for n in members}
        started = time.time()
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline:
            dead = [n for n, p in processes.items() if not p.alive()]
            if dead:
                raise TestbedError(f"{point.name}: Contiki node {dead[0]} exited mid-point; "
                                   f"console: {processes[dead[0]].console}")
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        stopped = time.time()
        for n in members:  # goodbyes and the counters, as the swarm's SIGTERM gives them
            net.contiki.hub.write(n, STOP_LINE)
        _wait_for_sent(processes, 5.0)
    _contiki_events(directory / "events.jsonl", processes)
    return measure_point(point, topology, directory, started, stopped, members=members)


def _wait_for_sent(processes: Mapping[str, Any], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = set(processes)
    while waiting and time.monotonic() < deadline:
        waiting = {n for n in waiting if b'"what": "sent"' not in _read(processes[n].events)}
        time.sleep(0.1)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _contiki_events(out: Path, processes: Mapping[str, Any]) -> None:
    """mdns-node's console events ({"event": "mdns", "what": ...}) in the swarm's shape."""
    with open(out, "w") as f:
        for node, process in processes.items():
            for e in read_json_lines(process.events):
                if e.get("event") != "mdns":
                    continue
                what = e.get("what")
                line: dict[str, Any] = {"node": node, "t": e.get("t"), "mdns": what}
                if what == "service":
                    line["instance"] = e.get("instance", "")
                elif what == "sent":
                    line["mdns"] = "stopped"
                    line["sent"] = {k: [int(e.get(f"{k}_packets", 0)), int(e.get(f"{k}_bytes", 0))]
                                    for k in SENT_KINDS if e.get(f"{k}_packets")}
                else:
                    line.update({k: v for k, v in e.items() if k not in ("event", "what", "t")})
                f.write(json.dumps(line) + "\n")


def measure_point(point: Point, topology: Topology, directory: Path, started: float,
                  stopped: float, members: Sequence[str] | None = None) -> dict[str, Any]:
    """members: the nodes that run mDNS (default: all of the topology's)."""
    events = list(read_json_lines(directory / "events.jsonl"))
    members = list(topology.nodes) if members is None else list(members)
    expected = {n: _expected_peers(point, topology, n, members) for n in members}
    known_at: dict[str, dict[str, float]] = {n: {} for n in members}
    sent: dict[str, Any] = {}
    for e in events:
        node = e.get("node")
        if node not in known_at:
            continue
        if e.get("mdns") == "service":
            peer = str(e.get("instance", "")).split("@")[0]
            known_at[node].setdefault(peer, float(e["t"]) - started)
        elif e.get("mdns") == "stopped":
            sent[node] = e.get("sent", {})
    times = []  # a node that never knew all its peers counts as never (inf): p95 is then
    for node, peers in expected.items():  # None unless 95 % of the nodes got there
        if peers and peers <= set(known_at[node]):
            times.append(max(known_at[node][p] for p in peers))
        elif peers:
            times.append(math.inf)
    complete = [t for t in times if t != math.inf]
    air = _air(directory, started, stopped)
    medium = _medium(directory)
    n = len(members)
    duration_s = stopped - started
    hours = max(duration_s - STARTUP_S, 1e-9) / 3600.0
    radio = _radio(directory, members)
    return {
        "point": asdict(point), "nodes": n, "duration_s": round(duration_s, 3),
        "links": len(topology.radio_links()),
        "discovery_s": {"p50": _finite(percentile(times, 50)),
                        "p95": _finite(percentile(times, 95)),
                        "max": _finite(max(times)) if times else None},
        "complete": len(complete), "expected_peers": sum(len(p) for p in expected.values()),
        "known_peers": sum(len(set(known_at[x]) & expected[x]) for x in expected),
        "air": air,
        "per_node": {
            "startup_frames": _r(air["startup"]["frames"] / n),
            "startup_bytes": _r(air["startup"]["bytes"] / n),
            "steady_bytes_per_hour": _r(air["steady"]["bytes"] / n / hours),
            "steady_frames_per_hour": _r(air["steady"]["frames"] / n / hours),
            "tx_s": _r(radio["tx_s"] / n), "rx_s": _r(radio["rx_s"] / n),
            "energy_mj": _r(radio["energy_mj"] / n) if radio["energy_mj"] is not None else None,
        },
        "collisions": medium.get("collisions"),
        "channel_access_failures": medium.get("channel_access_failures"),
        "engine_sent": _sum_sent(sent),
    }


def _expected_peers(point: Point, topology: Topology, node: str,
                    members: Sequence[str]) -> set[str]:
    if point.density == "clique" or point.transport in ("mpl", "srp"):
        return set(members) - {node}
    return set(topology.neighbours(node)) & set(members)


def _air(directory: Path, started: float, stopped: float) -> dict[str, Any]:
    """mDNS and DNS (SRP) frames and bytes of the capture; the data frames between start and
    stop split at STARTUP_S after the start (the goodbyes after the stop belong to neither)."""
    from testbed.capture.pcapfile import iter_frames

    report = analyze_capture(directory / "capture.pcap")
    mdns = report.by_purpose.get("mdns", {"bytes": 0, "frames": 0})
    dns = report.by_purpose.get("dns", {"bytes": 0, "frames": 0})  # SRP: unicast DNS, port 53
    split = {"startup": {"frames": 0, "bytes": 0}, "steady": {"frames": 0, "bytes": 0}}
    # per frame: every non-ACK frame carries a piece of a datagram; the study's only traffic
    # is mDNS (routes and neighbours are static), so a frame's window is what it splits
    for frame in iter_frames(directory / "capture.pcap"):
        if frame.is_ack or not started <= frame.time < stopped:
            continue
        phase = split["startup" if frame.time < started + STARTUP_S else "steady"]
        phase["frames"] += 1
        phase["bytes"] += len(frame.psdu)
    return {"mdns_frames": mdns["frames"], "mdns_bytes": mdns["bytes"],
            "dns_frames": dns["frames"], "dns_bytes": dns["bytes"],
            "frames": report.frames, **split}


def _medium(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / "medium.json").read_text())
    except (OSError, ValueError):
        return {}


def _radio(directory: Path, nodes: list[str]) -> dict[str, Any]:
    from testbed.energy.report import measure_energy

    try:
        figures, _ = measure_energy(directory, sensors=nodes, interval_s=1.0)
    except (TestbedError, OSError, ValueError, KeyError):
        return {"tx_s": 0.0, "rx_s": 0.0, "energy_mj": None}
    energy = [f.get("energy_mj") for f in figures.values()]
    return {"tx_s": sum(f.get("tx_s", 0.0) for f in figures.values()),
            "rx_s": sum(f.get("rx_s", 0.0) for f in figures.values()),
            "energy_mj": sum(energy) if energy and None not in energy else None}


def _sum_sent(sent: Mapping[str, Mapping[str, Sequence[int]]]) -> dict[str, list[int]]:
    total: dict[str, list[int]] = {}
    for per_node in sent.values():
        for kind, (packets, size) in per_node.items():
            t = total.setdefault(kind, [0, 0])
            t[0] += packets
            t[1] += size
    return total


def _finite(value: float | None) -> float | None:
    return None if value is None or value == math.inf else round(value, 4)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- growth ----------------------------------------------------------------------------------


def fit_power_law(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float] | None:
    """y = a x^b by least squares on (log x, log y); None with fewer than two usable points."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len({p[0] for p in pairs}) < 2:
        return None
    n = len(pairs)
    mx = sum(p[0] for p in pairs) / n
    my = sum(p[1] for p in pairs) / n
    sxx = sum((p[0] - mx) ** 2 for p in pairs)
    b = sum((p[0] - mx) * (p[1] - my) for p in pairs) / sxx
    a = math.exp(my - b * mx)
    ss_tot = sum((p[1] - my) ** 2 for p in pairs)
    ss_res = sum((p[1] - (math.log(a) + b * p[0])) ** 2 for p in pairs)
    return {"a": a, "b": b, "r2": 1.0 - ss_res / ss_tot if ss_tot else 1.0}


def growth_label(b: float) -> str:
    """The exponent read as the nearest of O(1), O(N), O(N^1.5), O(N^2), O(N^3); a clearly
    negative one says the figure falls as N grows (per node, when the channel saturates)."""
    if b < -0.2:
        return "falls with N"
    for limit, label in ((0.5, "O(1)"), (1.3, "O(N)"), (1.7, "O(N^1.5)"), (2.5, "O(N^2)")):
        if b < limit:
            return label
    return "O(N^3) or worse"


FITTED = {  # figure of a point -> what it is, for the growth table
    "total startup bytes": lambda p: p["air"]["startup"]["bytes"],
    "startup bytes per node": lambda p: p["per_node"]["startup_bytes"],
    "discovery time p95 s": lambda p: p["discovery_s"]["p95"],
    "collisions": lambda p: p["collisions"],
}


def growth(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per (density, loss, mechanisms, transport, platform) and fitted figure: the power law
    over N (all seeds)."""
    groups: dict[tuple[str, float, str, str, str], list[dict[str, Any]]] = {}
    for p in results.values():
        key = (p["point"]["density"], p["point"]["loss"], p["point"]["mechanisms"],
               p["point"].get("transport", "link"), p["point"].get("platform", "linux"))
        groups.setdefault(key, []).append(p)
    out = []
    for (density, loss, sets, transport, platform), pts in sorted(groups.items()):
        for figure, get in FITTED.items():
            xs, ys = [], []
            for p in pts:
                y = get(p)
                if y is not None:
                    xs.append(p["nodes"])
                    ys.append(float(y))
            fit = fit_power_law(xs, ys)
            if fit is not None:
                out.append({"density": density, "loss": loss, "mechanisms": sets,
                            "transport": transport, "platform": platform, "figure": figure,
                            **{k: round(v, 4) for k, v in fit.items()},
                            "growth": growth_label(fit["b"])})
    return out


# --- the study -------------------------------------------------------------------------------


def run_study(*, sizes: Sequence[int] = DEFAULT_SIZES,
              densities: Sequence[str] = DEFAULT_DENSITIES,
              losses: Sequence[float] = DEFAULT_LOSSES, sets: Sequence[str] = DEFAULT_SETS,
              seeds: Sequence[int] = DEFAULT_SEEDS,
              transports: Sequence[str] = DEFAULT_TRANSPORTS,
              contiki_sizes: Sequence[int] = DEFAULT_CONTIKI_SIZES,
              duration_s: float = DEFAULT_DURATION_S,
              out: str | Path = "reports", argv: Sequence[str] | None = None,
              progress: Callable[[int, int, Point], object] | None = None) -> Path:
    """Every point of the sweep on its own network; the run directory (results.json)."""
    todo = points(sizes, densities, losses, sets, seeds, transports, contiki_sizes)
    ns.require_net_admin()
    run = Run.create(topology_name="mdns-study", seed=min(seeds), out=out, argv=argv)
    run.annotate(backend="emulated", study="mdns")
    study: dict[str, Any] = {"study": "mdns", "run_id": run.run_id, "duration_s": duration_s,
                             "startup_s": STARTUP_S, "sweep": {
                                 "sizes": list(sizes), "densities": list(densities),
                                 "losses": list(losses), "mechanisms": list(sets),
                                 "seeds": list(seeds), "transports": list(transports),
                                 "contiki_sizes": list(contiki_sizes)},
             "points": {}, "growth": []}
    write_json_atomic(run.directory / RESULTS, study)
    try:
        for i, point in enumerate(todo):
            if progress is not None:
                progress(i, len(todo), point)
            try:
                study["points"][point.name] = run_point(point, run=run, duration_s=duration_s)
            except TestbedError as exc:
                study["points"][point.name] = {"point": asdict(point), "error": str(exc)}
            study["growth"] = growth({k: v for k, v in study["points"].items()
                                      if "error" not in v})
            write_json_atomic(run.directory / RESULTS, study)
    finally:
        write_json_atomic(run.directory / RESULTS, study)
        if not any(ns.netns_exists(name) for name in run.entry.netns):
            run.close()
        run.finish()
    return run.directory
