"""The emulated backend: each node a network namespace with a TAP radio, joined by the medium.

`EmulatedNetwork.up(topology, run=run)` is a context manager. Entering it creates, in this
order (each thing registered in the run's registry entry *before* it exists):

1. a namespace per node, `tb-<run_id>-<node>`, and the cloud's, `tb-<run_id>-cloud`;
2. the IPv6 sysctls of each node (forwarding on; no DAD, RS, RA, temporary addresses), set
   before any interface exists so that `default` applies to `wpan0`;
3. a persistent TAP `wpan0` per node (MTU 1280, MAC from the short address) and the veth
   pair border router `cloud0` <-> cloud `br0`;
4. the radio medium (`python -m testbed.radio.medium SPEC.json`), which attaches to every
   TAP and prints READY;
5. addresses, static neighbour entries and static routes along the route-over tree
   toward the border router (no ND chatter on the air).

Leaving it (normally, on an exception, on SIGINT or SIGTERM) stops the medium, kills every
process in our namespaces, deletes them and removes the registry entry: only what the
registry says this run created. `remove_created` is the same tear-down for `testbed clean`.

A `platform: contiki` topology differs in steps 1-5 (backends/contiki.py): only the border
router and the cloud get namespaces; the border router's holds a TUN `pan0` instead of a TAP;
the medium takes the nodes on its frame port; Contiki-NG firmware processes are the nodes
(border router and routers at bring-up, sensors when the experiment starts their app) and RPL
makes the routes. Tear-down stops them before the medium.

Not here: the topology model (config/), the medium itself (radio/), the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from testbed.backends import netns as ns
from testbed.backends.contiki import JOIN_TIMEOUT_S, ContikiPan, ContikiProcess, FirmwareFor
from testbed.backends.lab import LabPan, LabSetup, SnifferCapture
from testbed.backends.processes import ProcessRecord, dies_with_parent, stop_process
from testbed.errors import NetworkError
from testbed.lowpan import addresses

if TYPE_CHECKING:  # experiment/ depends on backends/, not the other way round
    from testbed.config.routes import RouteTree
    from testbed.config.topology import Topology
    from testbed.experiment.run import Run

CLOUD = "cloud"
TAP = "wpan0"
TAP_MTU = 1280  # RFC 4944 §4: the IPv6 MTU over 6LoWPAN
BR_CLOUD_IF = "cloud0"  # the border router's end of the veth
CLOUD_BR_IF = "br0"  # the cloud's end of the veth
MEDIUM_MODULE = "testbed.radio.medium"  # `python -m` target; see docs/CONTRACTS.md
MEDIUM_READY_TIMEOUT_S = 30.0
MEDIUM_STOP_TIMEOUT_S = 10.0

#: Written in every node namespace before its interfaces exist (so `default` reaches wpan0).
NODE_SYSCTLS = {
    "net/ipv6/conf/all/forwarding": "1",
    "net/ipv6/conf/default/forwarding": "1",
    "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv6/conf/default/router_solicitations": "0",
    "net/ipv6/conf/default/accept_ra": "0",
    "net/ipv6/conf/default/use_tempaddr": "0",
}
CLOUD_SYSCTLS = {
    "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv6/conf/default/router_solicitations": "0",
    "net/ipv6/conf/default/accept_ra": "0",
}



def tcp_rto_min_ms(node: str, *, seed: int) -> int:
    """This node's TCP minimum RTO: Linux's 200 ms plus a per-node share of up to 100 ms,
    drawn from the seed.

    Why: every emulated node's TCP runs in one kernel, whose timer wheel rounds a timeout
    up to a granule (64 ms for 0.5-4 s, 512 ms for 4-32 s) aligned to the same clock. Two
    hidden terminals that lose segments in one collision then back off in lockstep and
    collide again at every retransmission (seen: 8 rounds over 60 s on default.yaml);
    separate devices have unrelated clocks and do not. Different minimum RTOs make the
    backoff schedules drift apart by more than a granule (docs/CONTRACTS.md, Linux nodes).
    """
    return 200 + random.Random(f"rto-min/{seed}/{node}").randrange(100)


class ProgressLike(Protocol):
    """What we use of rich.progress.Progress (the backend does not import rich)."""

    def add_task(self, description: str, *, total: float | None = ..., **kw: Any) -> Any: ...
    def advance(self, task_id: Any, advance: float = ...) -> None: ...


def netns_name(run_id: str, node: str) -> str:
    """`tb-<run_id>-<node>`: carries the run id, so nothing of another run is ever touched."""
    return f"tb-{run_id}-{node}"


_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP for the block (main thread); they arrive right after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# --- tear-down shared with `testbed clean` ----------------------------------------------------


@dataclass(slots=True)
class Removed:
    """What a tear-down removed, for `testbed clean` to print."""

    processes: list[str] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # namespaces that would not go


def remove_created(
    netns: Sequence[str], pids: Sequence[ProcessRecord], *, grace_s: float = 2.0
) -> Removed:
    """Remove exactly what a run registered: its processes, then its namespaces.

    Recorded processes get SIGTERM, then SIGKILL after `grace_s` (checked by start time, so
    a recycled pid is left alone); then every process still inside one of the namespaces
    is killed (a namespace with a process in it would outlive `ip netns del`); then the
    namespaces are deleted in one `ip -batch`.
    """
    removed = Removed()
    signalled = [p for p in pids if p.signal(signal.SIGTERM)]
    deadline = time.monotonic() + grace_s
    while any(p.alive() for p in signalled) and time.monotonic() < deadline:
        time.sleep(0.02)
    for p in signalled:
        p.signal(signal.SIGKILL)
        removed.processes.append(f"{p.name or 'process'} (pid {p.pid})")
    for name, found in ns.kill_netns_processes(netns, grace_s=grace_s).items():
        removed.processes.extend(f"pid {pid} in {name}" for pid in found)
    removed.netns = ns.delete_netns(netns)
    removed.left = [n for n in netns if ns.netns_exists(n)]
    return removed


# --- signals ----------------------------------------------------------------------------------


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signal_handlers(handlers: dict[int, Any]) -> Iterator[None]:
    """Install handlers for the block (main thread only: elsewhere Python cannot)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


# --- the network ------------------------------------------------------------------------------


class EmulatedNetwork:
    """A topology brought up as namespaces + TAPs + the radio medium; see the module docstring.

    Use `EmulatedNetwork.up(...)`; the constructor does no I/O.
    """

    def __init__(
        self, topology: Topology, *, run: Run, seed: int = 1, directory: Path | None = None,
        sensniff: bool = False, firmware_for: FirmwareFor | None = None,
        lab: LabSetup | None = None,
    ) -> None:
        self.topology = topology
        #: the lab whose boards play the nodes (`testbed compare --lab`), None: processes
        self.lab = lab
        #: builds (or finds cached) the Contiki firmware of an app for the medium platform
        self.firmware_for = firmware_for
        #: the medium also publishes its tap as a sensniff stream on a pty (`sensniff_path`)
        self.sensniff = sensniff or (lab is not None and lab.sniffer is not None
                                     and lab.sniffer.emulator == "medium")
        self.run = run
        self.seed = seed
        self.run_id = run.run_id
        #: where capture.pcap, radio.csv, medium.json and logs/ go (a variant's own directory
        #: when one run brings the topology up several times; the run directory otherwise)
        self.directory = Path(directory) if directory is not None else run.directory
        self.logs = self.directory / "logs"
        self._tree: RouteTree | None = None
        self._medium: subprocess.Popen[bytes] | None = None
        self._medium_record: ProcessRecord | None = None
        self._medium_log: Path = self.logs / "medium.log"
        self.contiki: ContikiPan | None = None
        self._sniffer: SnifferCapture | None = None

    @property
    def is_contiki(self) -> bool:
        """Whether the PAN is Contiki-NG firmware (else Linux namespaces)."""
        return str(self.topology.pan_platform) == "contiki"

    # names and addresses -----------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.topology.nodes)

    def netns(self, node: str) -> str:
        """The namespace of `node` (`cloud` for the cloud host)."""
        if node != CLOUD and node not in self.topology.nodes:
            raise NetworkError(f"no node {node!r} in topology {self.topology.name!r}")
        if self.is_contiki and node not in (CLOUD, self.topology.border_router):
            raise NetworkError(f"{node} is a Contiki node: its IP stack lives in its firmware "
                               f"process, there is no namespace (console: {self.logs}/{node}.console)")
        return netns_name(self.run_id, node)

    @property
    def namespaced(self) -> tuple[str, ...]:
        """The nodes that have a namespace: all of a Linux PAN; the border router's host side
        in a Contiki PAN."""
        return (self.topology.border_router,) if self.is_contiki else self.nodes

    def short_address(self, node: str) -> int:
        return self.topology.short_address(node)

    def address(self, node: str) -> IPv6Address:
        """Global address: PAN prefix + IID from the short address; the cloud host's for `cloud`."""
        if node == CLOUD:
            return self.cloud_address
        return addresses.global_address(self.topology.radio.prefix, self.short_address(node))

    def link_local(self, node: str) -> IPv6Address:
        return addresses.link_local(self.short_address(node))

    @property
    def cloud_address(self) -> IPv6Address:
        """The cloud host (prosody, sinks): cloud prefix ::1."""
        return self.topology.cloud.prefix.network_address + 1

    @property
    def border_router_cloud_address(self) -> IPv6Address:
        """The border router's address on the cloud side: cloud prefix ::2."""
        return self.topology.cloud.prefix.network_address + 2

    @property
    def capture_path(self) -> Path:
        """The run's capture: the medium's, or on a lab with a sniffer board, the sniffer's."""
        return self.directory / "capture.pcap"

    @property
    def medium_capture_path(self) -> Path:
        """Where the medium writes what it put on the air: the capture itself, except when a
        lab's sniffer board makes the capture (then the medium's is the reference beside it)."""
        if self.lab is not None and self.lab.sniffer is not None:
            return self.directory / "medium-capture.pcap"
        return self.capture_path

    @property
    def activity_path(self) -> Path:
        return self.directory / "radio.csv"

    @property
    def stats_path(self) -> Path:
        return self.directory / "medium.json"

    @property
    def spec_path(self) -> Path:
        return self.directory / "medium-spec.json"

    @property
    def sensniff_path(self) -> Path:
        """Symlink to the pty where the medium writes every frame as sensniff v2 (`sensniff`)."""
        return self.directory / "sensniff.pty"

    # running things inside ---------------------------------------------------------------

    def _in_netns(self, node: str, argv: Sequence[str], *, lasting: bool) -> list[str]:
        """`ip netns exec` execs argv (same pid), so argv keeps the parent-death signal."""
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a list of arguments, not a string (no shell)")
        return dies_with_parent(["ip", "netns", "exec", self.netns(node), *argv],
                                lasting=lasting)

    def exec(self, node: str, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        """Run `argv` inside `node`'s namespace and wait (kwargs go to subprocess.run)."""
        return subprocess.run(self._in_netns(node, argv, lasting=False), **kw)

    def popen(self, node: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start `argv` inside `node`'s namespace; killed at tear-down with the namespace, and
        by the kernel if we die first (call it from the main thread)."""
        return subprocess.Popen(self._in_netns(node, argv, lasting=True), **kw)

    # bring-up ----------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def up(
        cls,
        topology: Topology,
        *,
        run: Run,
        seed: int = 1,
        progress: ProgressLike | None = None,
        directory: Path | None = None,
        sensniff: bool = False,
        firmware_for: FirmwareFor | None = None,
        lab: LabSetup | None = None,
    ) -> Iterator[EmulatedNetwork]:
        """Bring `topology` up for `run`; tear it all down on exit, exception or signal.

        `directory` (default: the run directory) receives capture, activity log, stats, logs/.
        """
        net = cls(topology, run=run, seed=seed, directory=directory, sensniff=sensniff,
                  firmware_for=firmware_for, lab=lab)
        raising = {
            signal.SIGINT: _raise_interrupt,
            signal.SIGTERM: _raise_exit,
            signal.SIGHUP: _raise_exit,
        }
        try:
            with _signal_handlers(raising):
                ns.require_net_admin()
                net._bring_up(progress)
                yield net
        finally:
            # a second Ctrl-C, or pytest-timeout's SIGALRM, must not cut tear-down short
            ignoring = dict.fromkeys([*raising, signal.SIGALRM], signal.SIG_IGN)
            with _signal_handlers(ignoring):
                net._tear_down(progress)

    @property
    def route_tree(self) -> RouteTree:
        """The route-over tree the static routes follow (known once bring-up has begun)."""
        if self._tree is None:
            raise NetworkError("the route tree is computed at bring-up; use EmulatedNetwork.up")
        return self._tree

    def _steps(
        self, progress: ProgressLike | None, description: str, total: int
    ) -> Callable[..., None]:
        """A `step()` callable that advances one progress task (or does nothing)."""
        if progress is None:
            return lambda n=1: None
        task = progress.add_task(description, total=total)
        return lambda n=1: progress.advance(task, n)

    def _bring_up(self, progress: ProgressLike | None) -> None:
        from testbed.config.routes import route_tree  # config/ is below us

        self._tree = route_tree(self.topology)
        if self.is_contiki:
            self._bring_up_contiki(progress)
            return
        everything = [*self.nodes, CLOUD]
        names = {node: self.netns(node) for node in everything}
        self.run.record_nodes(names)

        step = self._steps(progress, "namespaces", 1)
        self.run.record_netns(names.values())
        ns.add_netns(list(names.values()))
        step()

        step = self._steps(progress, "sysctls", len(everything))
        for node in everything:
            ns.write_sysctls(names[node], CLOUD_SYSCTLS if node == CLOUD else NODE_SYSCTLS)
            step()

        step = self._steps(progress, "TAP interfaces", len(self.nodes))
        self._per_node(self._interface_commands, step)
        ns.ip_batch(self._cloud_link_commands(), netns=names[CLOUD])

        step = self._steps(progress, "radio medium", 1)
        self._start_medium()
        step()

        step = self._steps(progress, "addresses and routes", len(self.nodes))
        self._per_node(self._route_commands, step)
        ns.ip_batch(self._cloud_route_commands(), netns=names[CLOUD])

    def _bring_up_contiki(self, progress: ProgressLike | None) -> None:
        """Namespaces for the border router's host side and the cloud, the TUN, the medium
        with frame ports, then the border router and routers (backends/contiki.py)."""
        if self.firmware_for is None and self.lab is None:
            raise NetworkError("a Contiki PAN needs its firmware: EmulatedNetwork.up("
                               "firmware_for=...), e.g. testbed.contiki.build for the medium")
        br = self.topology.border_router
        names = {br: self.netns(br), CLOUD: self.netns(CLOUD)}
        self.run.record_nodes(names)
        step = self._steps(progress, "namespaces", 1)
        self.run.record_netns(names.values())
        ns.add_netns(list(names.values()))
        for node in names:
            ns.write_sysctls(names[node], CLOUD_SYSCTLS if node == CLOUD else NODE_SYSCTLS)
        step()
        socket = ContikiPan.socket_path(self.run.private_dir)
        if self.lab is not None:
            self.contiki = LabPan(self.topology, self.run, self.logs, socket, _no_firmware,
                                  names[br], seed=self.seed, lab=self.lab.lab,
                                  board_firmware=self.lab.board_firmware)
        else:
            assert self.firmware_for is not None
            self.contiki = ContikiPan(self.topology, self.run, self.logs, socket,
                                      self.firmware_for, names[br], seed=self.seed)
            step = self._steps(progress, "firmware", 1)
            for app in ("border-router", "router"):
                self.firmware_for(app)
            step()
        ns.ip_batch(["link set dev lo up", *self.contiki.interface_commands(),
                     f"link add {BR_CLOUD_IF} type veth peer name {CLOUD_BR_IF} "
                     f"netns {names[CLOUD]}", f"link set dev {BR_CLOUD_IF} up",
                     f"address add {self.border_router_cloud_address}/"
                     f"{self.topology.cloud.prefix.prefixlen} dev {BR_CLOUD_IF} nodad",
                     f"route replace default via {self.cloud_address} dev {BR_CLOUD_IF}",
                     *self.contiki.route_commands()], netns=names[br])
        ns.ip_batch(self._cloud_link_commands(), netns=names[CLOUD])
        ns.ip_batch(self._cloud_route_commands(), netns=names[CLOUD])
        step = self._steps(progress, "radio medium", 1)
        if self.lab is None or self.lab.emulated_air:
            self._start_medium()
        if self.lab is not None and self.lab.sniffer is not None:
            port = (str(self.sensniff_path) if self.lab.sniffer.emulator == "medium"
                    else self.lab.sniffer.port)
            assert port is not None
            self._sniffer = SnifferCapture(self.lab.sniffer, port, self.capture_path,
                                           channel=self.topology.radio.channel).start()
        step()
        step = self._steps(progress, "Contiki border router and routers", 1)
        self.contiki.start_infrastructure()
        self.contiki.wait_joined(self.join_timeout_s)
        step()

    @property
    def join_timeout_s(self) -> float:
        """How long RPL may take to reach every node: a minute, and 10 s more per hop (each
        hop waits for its parent's DIO trickle, then the DAO goes up to the root)."""
        return JOIN_TIMEOUT_S + 10.0 * max(self.route_tree.hops.values(), default=0)

    def start_idle_nodes(self, timeout_s: float | None = None) -> None:
        """A Contiki PAN: every node not running firmware yet runs the router's, and this
        waits (default `join_timeout_s`) until all are in the DODAG. A Linux PAN: nothing to
        do (its nodes exist)."""
        if self.contiki is not None:
            self.contiki.start_idle()
            self.contiki.wait_joined(timeout_s or self.join_timeout_s)

    def start_firmware(self, node: str, app: str, env: dict[str, str]) -> ContikiProcess:
        """Start Contiki node `node` running `app` (a sensor's, at the experiment's time)."""
        if self.contiki is None:
            raise NetworkError(f"{node}: not a Contiki PAN")
        return self.contiki.start_app(node, app, env)

    def _per_node(self, commands: Callable[[str], list[str]], step: Callable[..., None]) -> None:
        """One `ip -n NS -batch -` per node, a few at once (each is its own process)."""
        with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 4)) as pool:
            futures = [
                pool.submit(ns.ip_batch, commands(node), netns=self.netns(node))
                for node in self.nodes
            ]
            for future in futures:
                future.result()
                step()

    def _interface_commands(self, node: str) -> list[str]:
        mac = addresses.mac48_text(self.short_address(node))
        lines = [
            "link set dev lo up",
            f"tuntap add dev {TAP} mode tap",
            f"link set dev {TAP} address {mac} mtu {TAP_MTU}",
            f"link set dev {TAP} up",
        ]
        if node == self.topology.border_router:
            lines += [
                f"link add {BR_CLOUD_IF} type veth peer name {CLOUD_BR_IF} "
                f"netns {self.netns(CLOUD)}",
                f"link set dev {BR_CLOUD_IF} up",
            ]
        return lines

    def _cloud_link_commands(self) -> list[str]:
        return ["link set dev lo up", f"link set dev {CLOUD_BR_IF} up"]

    def _route_commands(self, node: str) -> list[str]:
        """Address, neighbours and routes of `node` along the route-over tree.

        The global address is a /128: the PAN prefix is not on-link in a multi-hop PAN
        (RFC 6775 §3.2 / RFC 4903), so every other node is reached through a route.
        """
        tree = self.route_tree
        rto_min = f"rto_min {tcp_rto_min_ms(node, seed=self.seed)}ms"  # one kernel: see there
        lines = [f"address add {self.address(node)}/128 dev {TAP} nodad"]
        parent = tree.parent.get(node)
        children = tree.children(node)
        for neighbour in ([parent] if parent else []) + list(children):
            mac = addresses.mac48_text(self.short_address(neighbour))
            lines.append(
                f"neigh replace {self.link_local(neighbour)} lladdr {mac} dev {TAP} nud permanent"
            )
        for child in children:
            via = self.link_local(child)
            for dest in (child, *tree.descendants(child)):
                lines.append(f"route replace {self.address(dest)}/128 via {via} dev {TAP} "
                             f"{rto_min}")
        if node == self.topology.border_router:
            lines += [
                f"address add {self.border_router_cloud_address}/"
                f"{self.topology.cloud.prefix.prefixlen} dev {BR_CLOUD_IF} nodad",
                f"route replace default via {self.cloud_address} dev {BR_CLOUD_IF}",
            ]
        elif parent:
            lines.append(f"route replace default via {self.link_local(parent)} dev {TAP} "
                         f"{rto_min}")
        return lines

    def _cloud_route_commands(self) -> list[str]:
        return [
            f"address add {self.cloud_address}/{self.topology.cloud.prefix.prefixlen} "
            f"dev {CLOUD_BR_IF} nodad",
            f"route replace {self.topology.radio.prefix} via "
            f"{self.border_router_cloud_address} dev {CLOUD_BR_IF}",
        ]

    # the medium --------------------------------------------------------------------------

    def medium_spec(self) -> dict[str, Any]:
        """SPEC.json for `python -m testbed.radio.medium` (docs/CONTRACTS.md, radio/)."""
        radio = self.topology.radio
        return {
            "run_id": self.run_id,
            "channel": radio.channel,
            "pan_id": radio.pan_id,
            "addressing": str(radio.addressing),
            "prefix": str(radio.prefix),
            "seed": self.seed,
            "queue": radio.queue,
            "nodes": [
                {"name": n, "short": self.short_address(n), "port": "frame"} if self.is_contiki
                else {"name": n, "short": self.short_address(n), "netns": self.netns(n), "tap": TAP}
                for n in self.nodes
            ],
            **({"frame_socket": str(self.contiki.frame_socket)} if self.contiki else {}),
            "links": [{"a": l.a, "b": l.b, "prr": l.prr} for l in self.topology.radio_links()],
            "capture": str(self.medium_capture_path),
            "activity": str(self.activity_path),
            "stats": str(self.stats_path),
            # a Contiki border router sends its own RAs and DIOs; the medium announces for Linux
            "border_router": None if self.is_contiki else self.topology.border_router,
            **({"sensniff_pty": str(self.sensniff_path)} if self.sensniff else {}),
        }

    def _start_medium(self, timeout_s: float = MEDIUM_READY_TIMEOUT_S) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.spec_path.write_text(json.dumps(self.medium_spec(), indent=2) + "\n")
        argv = [sys.executable, "-m", MEDIUM_MODULE, str(self.spec_path)]
        # SIGTERM when we die (PR_SET_PDEATHSIG): the medium flushes capture and activity
        # log, then exits. It sets the same again itself and checks it is still our child.
        env = {**os.environ, "TESTBED_PARENT_PID": str(os.getpid())}
        with open(self._medium_log, "ab") as log, _signals_held():
            # no Ctrl-C between the fork and the registry entry: a medium we started is
            # always one `testbed clean` knows about
            self._medium = subprocess.Popen(
                dies_with_parent(argv, signum=signal.SIGTERM), stdout=subprocess.PIPE,
                stderr=log, stdin=subprocess.DEVNULL,
                close_fds=True, env=env,
            )
            self._medium_record = self.run.record_pid(self._medium.pid, "medium")
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        """Read the medium's stdout until a READY line; then keep draining it to logs/."""
        assert self._medium is not None and self._medium.stdout is not None
        out = self._medium.stdout
        seen = b""
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while b"READY" not in seen.splitlines():
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise NetworkError(self._medium_failure(f"no READY within {timeout_s} s", seen))
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    self._medium.wait()
                    raise NetworkError(
                        self._medium_failure(f"exited with {self._medium.returncode}", seen)
                    )
                seen += chunk
        threading.Thread(target=self._drain, args=(out,), daemon=True, name="medium-out").start()

    def _drain(self, out: Any) -> None:
        with open(self.logs / "medium.out", "ab") as sink:
            while chunk := os.read(out.fileno(), 4096):
                sink.write(chunk)
                sink.flush()

    def _medium_failure(self, what: str, stdout: bytes) -> str:
        try:
            tail = self._medium_log.read_bytes()[-300:].decode(errors="replace").strip()
        except OSError:
            tail = ""
        last = tail.splitlines()[-1] if tail else stdout[-100:].decode(errors="replace").strip()
        return f"radio medium: {what}; last output: {last!r}; full log: {self._medium_log}"

    def _stop_medium(self) -> None:
        # SIGTERM: the medium flushes capture, activity and stats before it exits
        stop_process(self._medium, MEDIUM_STOP_TIMEOUT_S)

    # tear-down ---------------------------------------------------------------------------

    def _tear_down(self, progress: ProgressLike | None) -> None:
        """Nodes, then the sniffer (it hears their last frames), then the medium, then the
        namespaces: each step runs even when one before it raised (the first error is
        raised after all of them)."""
        step = self._steps(progress, "tear-down", 1)
        with contextlib.ExitStack() as stack:
            stack.callback(step)
            stack.callback(self.run.finish)
            stack.callback(self._remove_namespaces)
            stack.callback(self._stop_medium)
            if self._sniffer is not None:
                stack.callback(self._sniffer.stop)
            if self.contiki is not None:
                stack.callback(self.contiki.stop)  # first: nodes see the medium go, not reverse

    def _remove_namespaces(self) -> None:
        entry = self.run.entry
        removed = remove_created(entry.netns, entry.pids)
        if removed.left:
            raise NetworkError(f"namespaces still present after tear-down: {removed.left}")
        self.run.close()


def _no_firmware(app: str) -> Path:
    raise NetworkError(f"{app}: a lab board is built for its own target (LabPan.start_app)")
