"""A PAN of lab boards: the Contiki nodes of a topology played by the boards of a lab file.

What it is: the lab path of `testbed compare --lab LAB`. Every node of the topology is a board
(`node:` in the lab file). For each variant the testbed builds the node's app for the board's
target with the node's configuration compiled in (a board reads no environment), flashes it
with the board's flasher argv, and reads the board's console over its serial port with
pyserial (a device path, a pty, or rfc2217:// for a board on another host). The border router
is a board too: Contiki-NG's rpl-border-router, its console carrying SLIP to the TUN `pan0` on
the host side, as on the emulated air (backends/contiki.py, whose join wait and console files
this reuses). Routers run nodes/contiki/router/, sensors the variant's app.

Emulated boards go through the same path: a `contiki-native` board is a native_board process
(a pty console with a serial bootloader, its firmware's radio the medium's frame port); the
EmulatedNetwork that owns this PAN starts the medium for them.

What it is not: the lab file (config/lab.py), the flashers (flash.py), the builder
(testbed/contiki/build.py), the board emulator (native_board.py).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import serial

from testbed.backends.console import LineConsole, SlipConsole, attach_tun
from testbed.backends.contiki import (
    BORDER_ROUTER_APP, PAN_TUN, ROUTER_APP, ContikiPan,
)
from testbed.backends.flash import flasher_for
from testbed.backends.meter import MeterRecorder
from testbed.backends.processes import ProcessRecord, dies_with_parent, stop_process
from testbed.config.lab import Board, BoardPlatform, Lab
from testbed.errors import BadInput, NetworkError, TestbedError

if TYPE_CHECKING:
    from testbed.config.topology import Topology
    from testbed.experiment.run import Run

NATIVE_BOARD_MODULE = "testbed.backends.native_board"
BOARD_READY_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 0.2
#: a node's configuration arrives as TESTBED_<KEY> variables (experiment/nodes.py firmware_env)
CONFIG_PREFIX = "TESTBED_"

#: board_firmware(board, app, config, *, private) -> the image its flasher takes: `app` built
#: for `board` with `config` compiled in (testbed.contiki.build.board_firmware)
BoardFirmware = Callable[..., Path]


def check_lab_plays(lab: Lab, topology: Topology) -> None:
    """BadInput unless every node of `topology` is played by a Contiki board of `lab`."""
    where = lab.source or f"lab {lab.name}"
    for name in topology.nodes:
        board = lab.board_for_node(name)
        if board is None:
            raise BadInput(f"{where}: no board plays node {name!r} of topology "
                           f"{topology.name!r} (add `node: {name}` to a contiki board)")
        if board.platform is not BoardPlatform.CONTIKI:
            raise BadInput(f"{where}: board {board.name} plays node {name!r} but runs "
                           f"{board.platform}; the comparison on boards needs contiki boards")


# --- a board's serial console -----------------------------------------------------------------


class BoardConsole:
    """A board's console over pyserial, read by its own thread into a LineConsole (or the
    border router's SlipConsole, whose TUN side a second thread reads)."""

    def __init__(self, board: Board, url: str, console: LineConsole) -> None:
        self.board = board
        self.url = url
        self.console = console
        self.error: str | None = None
        self._port: serial.SerialBase | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()
        self._closed = False

    def open(self, reset: Callable[[serial.SerialBase], bytes] | None = None) -> BoardConsole:
        """Open the port and read it; `reset` first restarts the board through the open port
        (pyserial drops unread input on open, as a USB serial does: what the board said
        between its flasher's reset and this open is lost) and returns its first output."""
        # pyserial's rfc2217 client has no write timeout (it refuses one): a board on a lab host
        timeouts = {} if self.url.startswith("rfc2217://") else {"write_timeout": 2.0}
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.board.baudrate,
                                               timeout=READ_TIMEOUT_S, **timeouts)
        except (serial.SerialException, OSError, ValueError) as exc:
            self.close()
            raise NetworkError(f"board {self.board.name}: cannot open its console "
                               f"{self.url}: {exc}") from None
        try:
            if reset is not None:
                try:
                    self.console.feed(reset(self._port))
                except TestbedError as exc:
                    raise NetworkError(f"board {self.board.name}: reset over {self.url}: "
                                       f"{exc}") from None
            self._start(self._read, f"console-{self.board.name}")
            if isinstance(self.console, SlipConsole):
                self._start(self._from_tun, f"tun-{self.board.name}")
        except BaseException:  # Ctrl-C in the reset included: nothing of it stays open
            self.close()
            raise
        return self

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def alive(self) -> bool:
        return self.error is None and not self._stop.is_set()

    def write(self, data: bytes) -> None:
        try:
            with self._write_lock:
                if self._port is None or self.error is not None:
                    return
                self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)

    def _lost(self, exc: BaseException) -> None:
        if not self._stop.is_set() and self.error is None:
            self.error = f"board {self.board.name}: console {self.url} lost: {exc}"

    def _read(self) -> None:
        assert self._port is not None
        while not self._stop.is_set():
            try:
                data = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                self._lost(exc)  # unplugged, ser2net gone, the pty closed
                return
            if data:
                self.console.feed(data)

    def _from_tun(self) -> None:
        assert isinstance(self.console, SlipConsole)
        with selectors.DefaultSelector() as selector:
            selector.register(self.console.tun, selectors.EVENT_READ)
            while not self._stop.is_set() and self.error is None:
                if selector.select(0.5):
                    self.console.from_tun()

    def close(self) -> None:
        """Stop the readers, close the port and the console files; again is a no-op."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
        with self._write_lock:
            if self._port is not None:
                with contextlib.suppress(serial.SerialException, OSError):
                    self._port.close()
                self._port = None
        self.console.close()


class BoardRun:
    """The `Popen` face of a node's app on a board, for the experiment (RunningNode): alive
    while its console is; `returncode` 1 once the console was lost, 0 once stopped."""

    pid = None

    def __init__(self, console: BoardConsole) -> None:
        self.console = console
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not self.console.alive:
            self.returncode = 1 if self.console.error else 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("board", timeout or 0.0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode


@dataclass(slots=True)
class BoardNode:
    """One node on its board: what ContikiPan's join wait and the experiment read."""

    node: str
    board: Board
    console_io: BoardConsole
    process: BoardRun
    console: Path
    events: Path
    err: Path
    record: ProcessRecord | None = None
    workdir: Path | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def failure(self) -> str | None:
        return self.console_io.error

    def stop(self) -> int | None:
        """Stop reading the console and let the port go (also after the board was lost); the
        board keeps its firmware until the next flash."""
        lost = self.console_io.error is not None
        self.console_io.close()
        if self.process.returncode is None:
            self.process.returncode = 1 if lost else 0
        return self.process.returncode


# --- emulated boards --------------------------------------------------------------------------


def _native_reset(port: serial.SerialBase) -> bytes:
    """A native board restarts through its bootloader on the open console: all its boot
    lines reach the console file (a real board's flasher reset them out of sight)."""
    from testbed.backends.native_board import reset_console

    return reset_console(port)


@dataclass(slots=True)
class NativeBoard:
    """A `contiki-native` board: its process and the port (a pty symlink) it serves."""

    board: Board
    process: subprocess.Popen[bytes]
    port: Path
    record: ProcessRecord | None

    def stop(self) -> None:
        stop_process(self.process, timeout_s=3.0)


def start_native_board(board: Board, *, node_short: int, seed: int, medium: Path,
                       directory: Path, run: Run, log: Path) -> NativeBoard:
    """Plug in a native board: its serve process, READY once its port exists."""
    port = directory / f"{board.name}.tty"
    argv = [sys.executable, "-m", NATIVE_BOARD_MODULE, "serve", "--link", str(port),
            "--short", str(node_short), "--seed", str(seed), "--medium", str(medium),
            "--state", str(directory / board.name)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as err:
        process = subprocess.Popen(dies_with_parent(argv), stdout=subprocess.PIPE, stderr=err,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   close_fds=True)
    record = run.record_pid(process.pid, f"board {board.name}")
    native = NativeBoard(board, process, port, record)
    assert process.stdout is not None
    deadline = time.monotonic() + BOARD_READY_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                native.stop()
                raise NetworkError(f"board {board.name}: the native board said no READY "
                                   f"within {BOARD_READY_TIMEOUT_S:g} s; log: {log}")
            line = process.stdout.readline()
            if not line:
                native.stop()
                raise NetworkError(f"board {board.name}: the native board exited with "
                                   f"{process.wait()}; log: {log}")
            if line.startswith(b"READY"):
                return native


# --- the sniffer board ------------------------------------------------------------------------


class SnifferCapture:
    """The lab's sensniff board, tuned to the PAN's channel, written to a pcap by a thread."""

    def __init__(self, board: Board, port: str, path: Path, *, channel: int) -> None:
        from testbed.capture.frames import FrameSink
        from testbed.capture.serial_source import SensniffSource

        self.board = board
        self.channel = channel
        self.source = SensniffSource(port, board.baudrate)
        self.sink = FrameSink(path)
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name=f"sniffer-{board.name}",
                                        daemon=True)

    def start(self) -> SnifferCapture:
        from testbed.capture.frames import CaptureError

        try:
            self.source.open()
            self.source.set_channel(self.board.channel or self.channel)
        except (CaptureError, serial.SerialException, OSError) as exc:
            self.source.close()
            raise NetworkError(f"sniffer board {self.board.name} on {self.source.port}: "
                               f"{exc}") from None
        self.sink.__enter__()
        self._thread.start()
        return self

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                frames = self.source.read()
            except Exception as exc:  # noqa: BLE001 - the board went away: say which
                self.error = f"sniffer board {self.board.name}: {exc}"
                return
            for frame in frames:
                self.sink.write(frame)

    def stop(self) -> None:
        """Read what is still in the port, then close port and pcap."""
        time.sleep(READ_TIMEOUT_S)
        self._stop.set()
        self._thread.join(timeout=3.0)
        with contextlib.suppress(Exception):
            for frame in self.source.read():
                self.sink.write(frame)
        self.source.close()
        self.sink.close()


# --- the PAN ----------------------------------------------------------------------------------


@dataclass(slots=True)
class LabPan(ContikiPan):
    """The Contiki nodes of a topology on the boards of `lab` (EmulatedNetwork owns one)."""

    lab: Lab | None = None
    board_firmware: BoardFirmware | None = None
    boards: dict[str, NativeBoard] = field(default_factory=dict)
    nodes: dict[str, BoardNode] = field(default_factory=dict)
    #: the power meters of the boards that play a node (lab file `meter:`), per node; each
    #: writes <variant>/meters/<node>.txt (testbed/energy/measured.py reads it)
    meters: dict[str, MeterRecorder] = field(default_factory=dict)

    def board(self, node: str) -> Board:
        assert self.lab is not None
        board = self.lab.board_for_node(node)
        if board is None:
            raise NetworkError(f"{self.lab.source or 'lab ' + self.lab.name}: no board plays "
                               f"node {node!r}")
        return board

    def port(self, board: Board) -> str:
        """Where the board's console is from here: a native board's pty, or the lab's port."""
        if board.name in self.boards:
            return str(self.boards[board.name].port)
        assert board.port is not None, "lab.py: a board without emulator has a port"
        return board.port

    # -- bring-up ----------------------------------------------------------------------------

    def start_infrastructure(self) -> None:
        """Plug in the emulated boards, then flash and start the border router and routers."""
        assert self.lab is not None
        bench = Path(os.path.dirname(self.frame_socket))
        for name in self.topology.nodes:
            board = self.board(name)
            if board.emulator == "contiki-native":
                self.boards[board.name] = start_native_board(
                    board, node_short=self.topology.short_address(name), seed=self.seed,
                    medium=self.frame_socket, directory=bench, run=self.run,
                    log=self.logs / f"board-{board.name}.log")
        br = self.topology.border_router
        self._tun = attach_tun(self.border_router_netns, PAN_TUN)
        self.start_app(br, BORDER_ROUTER_APP, {}, slip=True)
        for name in self.topology.nodes:
            if name != br and str(self.topology.nodes[name].role) == "router":
                self.start_app(name, ROUTER_APP, {})

    def start_idle(self) -> None:
        for name in self.topology.nodes:
            if name not in self.nodes:
                self.start_app(name, ROUTER_APP, {})

    def start_app(self, node: str, app: str, env: Mapping[str, str], *,
                  slip: bool = False) -> BoardNode:
        """Build `app` for `node`'s board with its configuration compiled in, flash it, and
        read the board's console (the flasher resets the board)."""
        assert self.board_firmware is not None
        board = self.board(node)
        if node in self.nodes:
            self.nodes[node].stop()  # the port goes before the flasher takes it
        config = {key[len(CONFIG_PREFIX):]: value for key, value in env.items()
                  if key.startswith(CONFIG_PREFIX)}
        port = self.port(board)
        try:
            image = self.board_firmware(board, app, config, private=self.run.private_dir)
            flasher = flasher_for(board, self.lab, log_dir=self.logs / "flash")
            flasher.flash(image, port=port)
        except TestbedError as exc:
            raise NetworkError(f"{node} (board {board.name}): {exc}") from None
        self.logs.mkdir(parents=True, exist_ok=True)
        console_path, events_path = self.logs / f"{node}.console", self.logs / f"{node}.jsonl"
        err_path = self.logs / f"{node}.err"
        err_path.touch()
        console: LineConsole
        holder: list[BoardConsole] = []
        if slip:
            assert self._tun is not None
            console = SlipConsole(node, console_path, events_path, tun=self._tun,
                                  prefix=self.topology.radio.prefix,
                                  write=lambda data: holder[0].write(data))
        else:
            console = LineConsole(node, console_path, events_path)
        io = BoardConsole(board, port, console)
        holder.append(io)
        io.open(reset=_native_reset if board.emulator == "contiki-native" else None)
        running = BoardNode(node, board, io, BoardRun(io), console_path, events_path, err_path)
        self.nodes[node] = running
        if board.meter is not None and node not in self.meters:  # from the app's start on
            self.meters[node] = MeterRecorder(
                board, self.logs.parent / "meters" / f"{node}.txt").start()
        self.processes[node] = running  # type: ignore[assignment]  # ContikiPan's join wait
        return running

    def start_firmware(self, node: str, elf: Path, env: Mapping[str, str], *,
                       slip: bool = False) -> BoardNode:
        raise NetworkError(f"{node}: a lab board is flashed with an app (start_app), not "
                           "handed an ELF")

    def stop(self) -> None:
        """The power meters (their records complete), every console, each board's `quiet:`,
        then the emulated boards, then the TUN's fd; one that fails does not keep the others
        open (the first failure is raised after all were tried)."""
        for recorder in self.meters.values():  # the variant is over: what it cost is written
            recorder.stop()
        self.meters.clear()
        with contextlib.ExitStack() as stack:
            if self._tun is not None:
                stack.callback(os.close, self._tun)
                self._tun = None
            for native in self.boards.values():
                stack.callback(native.stop)
            for running in self.nodes.values():  # once its console is closed, before a
                # native board goes away; not a board that is gone (unplugged mid-variant)
                if running.board.quiet is not None and not running.console_io.error:
                    stack.callback(self._quiet, running.board)
            for running in self.nodes.values():
                stack.callback(running.stop)  # last in, first out: consoles go first

    def _quiet(self, board: Board) -> None:
        """Run the board's `quiet:` argv where its flasher runs (here, or its lab host): its
        firmware stops sending, so the next variant's air holds only the next variant."""
        assert self.lab is not None and board.quiet is not None
        flasher = flasher_for(board, self.lab, log_dir=self.logs / "flash")
        quieter = replace(flasher, argv=board.quiet,  # type: ignore[type-var]
                          log=self.logs / "flash" / f"{board.name}.quiet.log")
        try:
            quieter.flash(None, port=self.port(board))
        except TestbedError as exc:
            raise NetworkError(f"quiet: {exc}") from None  # it names the board and its log

    def lost_boards(self) -> list[str]:
        """Why consoles were lost, one message per board (a board unplugged mid-run)."""
        return [n.console_io.error for n in self.nodes.values() if n.console_io.error]


#: what an EmulatedNetwork needs to run a PAN on a lab's boards
@dataclass(frozen=True, slots=True)
class LabSetup:
    lab: Lab
    board_firmware: BoardFirmware

    @property
    def sniffer(self) -> Board | None:
        sniffers = self.lab.by_platform(BoardPlatform.SENSNIFF)
        return sniffers[0] if sniffers else None

    @property
    def emulated_air(self) -> bool:
        """Native boards share the medium's air: the network starts it for them."""
        return any(b.emulator == "contiki-native" for b in self.lab.boards.values())


__all__ = ["BoardConsole", "BoardNode", "BoardRun", "LabPan", "LabSetup",
           "NativeBoard", "SnifferCapture", "check_lab_plays", "start_native_board"]
