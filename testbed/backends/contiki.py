"""A PAN of Contiki-NG nodes on the emulated air: firmware processes, consoles, the border router.

What it is: the part of the emulated backend that makes a `platform: contiki` topology exist.
Every node is one Linux process running Contiki-NG firmware built for the out-of-tree `medium`
platform (nodes/contiki/platform/medium/): Contiki's own netstack (CSMA, sicslowpan, RPL, uIP)
makes every byte and hands whole frames to the medium's frame port. A node has no network
namespace: its IP stack lives inside the process. Its console is a pty (backends/console.py).

The border router is Contiki-NG's rpl-border-router (nodes/contiki/border-router/), the RPL
root, the way a lab runs one on a board: its console carries SLIP to a TUN `pan0` in the
border router's namespace, where the veth to the cloud namespace starts as for a Linux PAN.
Routers run nodes/contiki/router/; sensors run the variant's app, started by the experiment
(`start_firmware`). Why not a Linux border router: Contiki nodes route with RPL, and Linux here
has no RPL root; the Contiki one is also what issue 08's labs flash.

What it is not: the builder of the firmware (testbed/contiki/) or the medium.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.backends.console import ConsoleHub, LineConsole, SlipConsole, attach_tun, open_pty
from testbed.backends.processes import ProcessRecord, dies_with_parent
from testbed.errors import NetworkError
from testbed.lowpan.addresses import global_address

if TYPE_CHECKING:
    from testbed.config.topology import Topology
    from testbed.experiment.run import Run

#: The TUN in the border router's namespace that the SLIP line feeds.
PAN_TUN = "pan0"
BORDER_ROUTER_APP = "border-router"
ROUTER_APP = "router"
#: Environment of a node process: where the medium listens, who the node is, and the seed of
#: its random_rand() (the platform mixes in the short address), so a run's seed repeats it.
MEDIUM_SOCKET_ENV = "TESTBED_MEDIUM_SOCKET"
NODE_SHORT_ENV = "TESTBED_NODE_SHORT"
NODE_SEED_ENV = "TESTBED_NODE_SEED"
STOP_TIMEOUT_S = 2.0
JOIN_TIMEOUT_S = 60.0
#: What a router prints once in the DODAG (nodes/contiki/router/router.c). The border router
#: is up once it prints its global address (border-router-embedded.c lists its addresses
#: after the host gave it the prefix over SLIP).
JOINED = b"joined"

FirmwareFor = Callable[[str], Path]


@dataclass(slots=True)
class ContikiProcess:
    """One node's firmware process and its console files."""

    node: str
    process: subprocess.Popen[bytes]
    console: Path
    events: Path
    err: Path
    record: ProcessRecord | None = None
    workdir: Path | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL after `timeout_s` (a native Contiki node exits on either)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        return self.process.returncode


@dataclass(slots=True)
class ContikiPan:
    """The Contiki nodes of one brought-up topology (EmulatedNetwork owns one)."""

    topology: Topology
    run: Run
    logs: Path
    frame_socket: Path
    firmware_for: FirmwareFor
    border_router_netns: str
    seed: int = 1
    processes: dict[str, ContikiProcess] = field(default_factory=dict)
    hub: ConsoleHub = field(default_factory=ConsoleHub)
    _tun: int | None = None
    _started: bool = False

    @staticmethod
    def socket_path(private_dir: Path) -> Path:
        """A fresh, short path for the medium's frame socket (sun_path holds 108 bytes)."""
        return Path(tempfile.mkdtemp(prefix="air-", dir=private_dir)) / "medium.sock"

    def interface_commands(self) -> list[str]:
        """`ip -batch` lines for the border router's namespace: the TUN the SLIP line feeds."""
        return [f"tuntap add dev {PAN_TUN} mode tun", f"link set dev {PAN_TUN} up"]

    def route_commands(self) -> list[str]:
        """The PAN prefix is behind the TUN (the Contiki border router routes inside it)."""
        return [f"route replace {self.topology.radio.prefix} dev {PAN_TUN}"]

    # -- nodes -------------------------------------------------------------------------------

    def start_infrastructure(self) -> None:
        """The border router first (the RPL root), then every router; not the sensors."""
        if not self._started:
            self.hub.start()
            self._started = True
        br = self.topology.border_router
        self._tun = attach_tun(self.border_router_netns, PAN_TUN)
        self.start_firmware(br, self.firmware_for(BORDER_ROUTER_APP), {}, slip=True)
        for name in self.topology.nodes:
            if name != br and str(self.topology.nodes[name].role) == "router":
                self.start_firmware(name, self.firmware_for(ROUTER_APP), {})

    def start_idle(self) -> None:
        """Every node without firmware yet runs the router's (it joins and forwards): what
        `testbed up` and `pingall` want, where no experiment starts the sensors' apps."""
        for name in self.topology.nodes:
            if name not in self.processes:
                self.start_firmware(name, self.firmware_for(ROUTER_APP), {})

    def start_app(self, node: str, app: str, env: Mapping[str, str]) -> ContikiProcess:
        """Run `app`'s firmware for this PAN as `node` (a sensor's, at the experiment's time)."""
        return self.start_firmware(node, self.firmware_for(app), env)

    def start_firmware(self, node: str, elf: Path, env: Mapping[str, str], *,
                       slip: bool = False) -> ContikiProcess:
        """Run `elf` as node `node`: its console on a pty, `env` on top of the node's identity.

        Call from the main thread (the process dies with the thread that starts it)."""
        if node in self.processes and self.processes[node].alive():
            raise NetworkError(f"{node}: a Contiki process runs already")
        self.logs.mkdir(parents=True, exist_ok=True)
        console_path, events_path = self.logs / f"{node}.console", self.logs / f"{node}.jsonl"
        err_path = self.logs / f"{node}.err"
        workdir = Path(tempfile.mkdtemp(prefix=f"{node}-", dir=self.run.private_dir))
        master, slave = open_pty()
        console: LineConsole
        if slip:
            assert self._tun is not None
            console = SlipConsole(node, console_path, events_path, tun=self._tun,
                                  prefix=self.topology.radio.prefix,
                                  write=lambda data, n=node: self.hub.write(n, data))
        else:
            console = LineConsole(node, console_path, events_path)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            MEDIUM_SOCKET_ENV: str(self.frame_socket),
            NODE_SHORT_ENV: str(self.topology.short_address(node)),
            NODE_SEED_ENV: str(self.seed),
            **env,
        }
        try:
            with open(err_path, "ab") as err:
                process = subprocess.Popen(
                    dies_with_parent([str(elf)]), stdin=slave, stdout=slave, stderr=err,
                    env=full_env, cwd=workdir, start_new_session=True, close_fds=True,
                )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.hub.add(node, master, console)
        record = self.run.record_pid(process.pid, f"contiki {node}")
        running = ContikiProcess(node, process, console_path, events_path, err_path, record,
                                 workdir)
        self.processes[node] = running
        return running

    def wait_joined(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Until the border router has its prefix and every router is in the DODAG."""
        br = self.topology.border_router
        prefix_set = str(global_address(self.topology.radio.prefix,
                                        self.topology.short_address(br))).encode()
        waiting = {name: (prefix_set if name == br else JOINED) for name in self.processes}
        deadline = time.monotonic() + timeout_s
        while waiting:
            for name, line in list(waiting.items()):
                process = self.processes[name]
                if _has_line(process.console, line):
                    del waiting[name]
                elif not process.alive():
                    raise NetworkError(f"{name}: Contiki firmware exited with "
                                       f"{process.process.returncode}; {_last_lines(process)}")
            if waiting and time.monotonic() > deadline:
                names = ", ".join(sorted(waiting))
                raise NetworkError(f"Contiki nodes {names}: not in the DODAG within {timeout_s} s;"
                                   f" consoles in {self.logs}/<node>.console")
            time.sleep(0.1)

    def stop(self) -> None:
        """Every node process, then the consoles and the TUN's fd."""
        for process in self.processes.values():
            process.stop()
        if self._started:
            self.hub.close()
            self._started = False
        if self._tun is not None:
            os.close(self._tun)
            self._tun = None
        for process in self.processes.values():
            if process.workdir is not None:
                shutil.rmtree(process.workdir, ignore_errors=True)


def _has_line(path: Path, needle: bytes) -> bool:
    try:
        return needle in path.read_bytes()
    except FileNotFoundError:
        return False


def _last_lines(process: ContikiProcess) -> str:
    for path in (process.err, process.console):
        try:
            lines = path.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            continue
        if lines:
            return f"last line of {path.name}: {lines[-1]!r}"
    return "no output"

