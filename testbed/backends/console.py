"""Serial consoles of Contiki nodes on the emulated air: a pty each, all read by one thread.

A Contiki node's console is what a board's USB serial is: its log, its shell, and the app's
JSON event lines. The node process gets a pty's slave side as stdin and stdout (raw mode: no
echo, no newline translation, so binary SLIP passes unchanged); the testbed keeps the master.
One `ConsoleHub` thread reads every master, so 100 nodes cost one thread, not 100.

Two line disciplines on top:

- `LineConsole`: text lines. Every line goes to `<node>.console` as read; lines that are JSON
  objects with an "event" go to `<node>.jsonl` too, the events file every platform writes
  (docs/CONTRACTS.md "Node firmware"), so the experiment reads Contiki nodes like the others.
- `SlipConsole`: the border router's line carries SLIP (RFC 1055) with IPv6 between the PAN
  and the host, what Contiki-NG's tunslip6 does for a board on USB. Packets go to a TUN in the
  border router's namespace and back; the `?P` prefix request is answered with `!P` and the PAN
  prefix (Contiki-NG os/services/rpl-border-router/embedded/slip-bridge.c); bytes outside
  frames are the node's log. Contiki's slip.c frames every packet as END data END, so a byte
  after a closing END and before the next END is text.

What it is not: the node process (backends/contiki.py starts it) or a shell client.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import struct
import threading
import tty
from collections.abc import Callable
from ipaddress import IPv6Network
from pathlib import Path
from typing import BinaryIO

import sliplib

from testbed.errors import NetworkError
from testbed.linux import inside_netns

END = 0xC0
_READ_SIZE = 65536
#: a line longer than this without a newline is cut (a console that prints binary garbage)
LINE_LIMIT = 4096

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_pty() -> tuple[int, int]:
    """(master, slave) of a new pty, the slave in raw mode, the master non-blocking."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    os.set_inheritable(master, False)
    return master, slave


def attach_tun(netns: str, ifname: str) -> int:
    """A non-blocking fd on the persistent TUN `ifname` in namespace `netns` (raw IPv6
    packets, no packet-info header); the fd keeps working from any namespace."""
    with inside_netns(netns):
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", ifname.encode(), IFF_TUN | IFF_NO_PI))
        except OSError as error:
            os.close(fd)
            raise NetworkError(f"netns {netns}: TUNSETIFF {ifname}: {error.strerror}") from None
    return fd


class LineConsole:
    """Text lines of one node: all to `console`, JSON event lines also to `events`."""

    def __init__(self, node: str, console: Path, events: Path) -> None:
        self.node = node
        self._console: BinaryIO = open(console, "ab", buffering=0)
        self._events: BinaryIO = open(events, "ab", buffering=0)
        self._partial = b""
        self.lines = 0

    def feed(self, data: bytes) -> None:
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        if len(self._partial) > LINE_LIMIT:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self.line(line.rstrip(b"\r"))

    def line(self, line: bytes) -> None:
        self.lines += 1
        self._console.write(line + b"\n")
        if line.startswith(b"{"):
            try:
                data = json.loads(line)
            except ValueError:
                return
            if isinstance(data, dict) and isinstance(data.get("event"), str):
                self._events.write(line + b"\n")

    def close(self) -> None:
        if self._partial:
            self.line(self._partial)
            self._partial = b""
        self._console.close()
        self._events.close()


class SlipConsole(LineConsole):
    """The border router's console: SLIP frames to and from a TUN, text to the log."""

    def __init__(self, node: str, console: Path, events: Path, *, tun: int,
                 prefix: IPv6Network, write: Callable[[bytes], None]) -> None:
        super().__init__(node, console, events)
        self.tun = tun
        self.prefix = prefix
        self._write = write
        self._frame: bytearray | None = None  # None: outside a frame (text)
        self._text = bytearray()
        self.stats = {"to_tun": 0, "from_tun": 0, "prefix_requests": 0, "bad_frames": 0,
                      "tun_errors": 0}

    def feed(self, data: bytes) -> None:
        for byte in data:
            if byte == END:
                if self._frame is None:
                    self._flush_text()
                    self._frame = bytearray()
                elif self._frame:
                    self._packet(bytes(self._frame))
                    self._frame = None
                # END END: an empty frame, still inside
            elif self._frame is None:
                self._text.append(byte)
            else:
                self._frame.append(byte)
        if b"\n" in self._text:
            self._flush_text()

    def _flush_text(self) -> None:
        if self._text:
            super().feed(bytes(self._text))
            self._text.clear()

    def _packet(self, frame: bytes) -> None:
        try:
            packet = sliplib.decode(frame)
        except sliplib.ProtocolError:
            self.stats["bad_frames"] += 1
            return
        if packet[:2] == b"?P":
            self.stats["prefix_requests"] += 1
            self.send(b"!P" + self.prefix.network_address.packed[:8])
        elif packet[:1] in (b"!", b"?"):
            return  # other configuration messages of slip-bridge.c: nothing to answer
        elif packet[0] >> 4 == 6 and len(packet) >= 40:
            try:
                os.write(self.tun, packet)
                self.stats["to_tun"] += 1
            except OSError:
                self.stats["tun_errors"] += 1
        else:
            self.stats["bad_frames"] += 1

    def send(self, packet: bytes) -> None:
        """One packet to the node, SLIP-framed as Contiki's slip.c reads it."""
        self._write(bytes((END,)) + sliplib.encode(packet) + bytes((END,)))

    def from_tun(self) -> None:
        while True:
            try:
                packet = os.read(self.tun, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                self.stats["tun_errors"] += 1
                return
            if packet[:1] and packet[0] >> 4 == 6:
                self.stats["from_tun"] += 1
                self.send(packet)

    def close(self) -> None:
        self._flush_text()
        super().close()


class ConsoleHub:
    """One thread reading every console master; `add` before or while it runs."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._masters: dict[str, int] = {}
        self._consoles: dict[str, LineConsole] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="consoles", daemon=True)
        self.dropped_writes = 0

    def start(self) -> ConsoleHub:
        self._thread.start()
        return self

    def add(self, node: str, master: int, console: LineConsole) -> None:
        with self._lock:
            self._masters[node] = master
            self._consoles[node] = console
            self._selector.register(master, selectors.EVENT_READ, console)
            if isinstance(console, SlipConsole):
                self._selector.register(console.tun, selectors.EVENT_READ, ("tun", console))
        os.write(self._wake_w, b"x")

    def write(self, node: str, data: bytes) -> None:
        """Bytes to `node`'s console input (its shell, or SLIP); dropped when the pty is full,
        as a UART without flow control would drop them."""
        try:
            os.write(self._masters[node], data)
        except (BlockingIOError, OSError):
            self.dropped_writes += 1

    def console(self, node: str) -> LineConsole:
        return self._consoles[node]

    def _run(self) -> None:
        # epoll allows registering from another thread while one waits (epoll_ctl(2)); the
        # wake pipe makes the wait see a new console at once
        while not self._stopping:
            for key, _ in self._selector.select(0.5):
                if key.data is None:
                    _drain(self._wake_r)
                elif isinstance(key.data, tuple):
                    key.data[1].from_tun()
                else:
                    self._read(key.fd, key.data)

    def _read(self, fd: int, console: LineConsole) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: the node exited and closed its side
            data = b""
        if not data:
            self._selector.unregister(fd)
            return
        console.feed(data)

    def close(self) -> None:
        """Stop reading, flush every console's last line, close the masters."""
        self._stopping = True
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        for node, master in self._masters.items():
            try:
                while data := os.read(master, _READ_SIZE):
                    self._consoles[node].feed(data)
            except OSError:
                pass
            os.close(master)
            self._consoles[node].close()
        self._masters.clear()
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
