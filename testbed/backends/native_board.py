"""A Contiki board with no hardware: medium-platform firmware behind a serial port and a bootloader.

Why: a lab that runs here must take exactly the path a lab of real Contiki boards takes (flash
with the board's flasher argv, reset, open the port with pyserial, read the console), so the
board itself is emulated, not the path. One `serve` process plays one board:

- Its "USB serial port" is a pty; the slave's path is published as a symlink at `--link`
  (as capture/sensniff_pty.py does) and printed as `READY <pty path>` on stdout.
- Its "flash" is the file `firmware` in its state dir; its "hardware" is the environment the
  firmware gets: TESTBED_MEDIUM_SOCKET (its radio), TESTBED_NODE_SHORT and TESTBED_NODE_SEED
  (its address), PATH, and nothing else of the caller's. The firmware runs with its stdin,
  stdout and stderr on an inner pty (Contiki native wants a tty); bytes are relayed both ways
  unchanged. An installed image runs when the board starts (power on).
- Its ROM bootloader is in-band on the same port, as a CC2538's is on its UART (cc2538-bsl).

Bootloader framing (host -> board). A command is the exact sequence

    C0 00 'T' 'B' '-' <verb line> '\\n'

- `BOOT <size> <sha256 hex>\\n` then exactly <size> image bytes: the firmware is stopped and
  the installed image erased at once (a board in its bootloader runs no app, and a failed
  flash leaves nothing to run); the image is stored (executable) once its sha256 matches.
- `RESET\\n`: (re)start the installed firmware; the answer comes before its first output.
- `HOLD\\n`: stop the firmware (reset held).  `INFO\\n`: answer `OK <running|held|empty>
  <size> <sha256>` about the installed image.
Answers (board -> host): `00 'TB-OK' [' ' info] '\\n'` or `00 'TB-ERR ' <reason> '\\n'`.

Why C0 00 cannot misfire. 0xC0 is SLIP's END (RFC 1055) and never occurs in UTF-8 text, so
console input never holds it. In a SLIP stream C0 is always a frame boundary (a C0 inside a
frame is sent as DB DC), so `C0 00 TB-` is a frame that starts with 00 'TB-': no IPv6 packet
(first nibble 6) nor Contiki's SLIP control messages ('!', '?') start so. NUL bytes inside SLIP
frames pass untouched. The C0 itself is relayed at once (a SLIP frame's closing END is never
delayed; an extra END is an empty frame, which SLIP ignores); only up to 4 bytes that may start
the rest of the magic (00 'T' 'B' '-') right after a C0 wait for the next byte. A command line
or image that stalls for COMMAND_TIMEOUT_S is dropped with an ERR answer.

What it is not: the flasher's lab plumbing (flash.py CommandFlasher runs `flash` below as the
board's flasher argv), the medium, or a lab bring-up of many boards.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import os
import re
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.backends.processes import dies_with_parent
from testbed.errors import BadInput, FlashError
from testbed.linux import PR_SET_PDEATHSIG, prctl

MODULE = "testbed.backends.native_board"
END = 0xC0  # SLIP END, RFC 1055
MAGIC = b"\xc0\x00TB-"
ANSWER = b"\x00TB-"
MAX_LINE = 100  # bytes of a command line after the magic
MAX_IMAGE = 64 * 1024 * 1024
COMMAND_TIMEOUT_S = 10.0  # a command line or image that stops arriving is dropped
STOP_GRACE_S = 2.0  # SIGTERM, then SIGKILL
OUTPUT_CAP = 64 * 1024  # console bytes kept for a host that does not read; then dropped
BAUDRATE = 115200  # what the host asks for; a pty ignores it
TIMEOUT_S = 10.0  # the flasher's wait for each answer
IMAGE_NAME = "firmware"
SHA_NAME = "firmware.sha256"
MEDIUM_SOCKET_ENV = "TESTBED_MEDIUM_SOCKET"  # the names of backends/contiki.py
NODE_SHORT_ENV = "TESTBED_NODE_SHORT"
NODE_SEED_ENV = "TESTBED_NODE_SEED"
MAX_SHORT = 0xFFFD
_SHA = re.compile(r"[0-9a-f]{64}\Z")
_SIZE = re.compile(r"[0-9]{1,9}\Z")


# --- the command parser: what the host writes, split into console bytes and commands ---------


@dataclass(frozen=True, slots=True)
class Passthrough:
    """Bytes for the firmware, unchanged."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Command:
    """A bootloader command line: BOOT (size, sha256), RESET, HOLD, INFO; ERROR for a bad one."""

    verb: str
    size: int = 0
    sha256: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    """The <size> bytes that followed a BOOT line."""

    data: bytes
    sha256: str  # the one the BOOT line announced


Event = Passthrough | Command | Image


class BootloaderParser:
    """Splits the host's byte stream (any chunking) into Passthrough, Command and Image events.

    Pure: no I/O, so any stream can be fed to it in a test."""

    def __init__(self) -> None:
        self._after_end = False  # the last byte relayed was C0
        self._held = b""  # a prefix of MAGIC[1:] seen right after C0, not relayed yet
        self._line: bytearray | None = None  # collecting a command line
        self._skipping = False  # dropping the rest of a line that was too long
        self._image: bytearray | None = None  # collecting an image
        self._boot: Command | None = None

    @property
    def busy(self) -> bool:
        """True inside a command line or image (the board times those out)."""
        return self._line is not None or self._image is not None

    @property
    def held(self) -> bytes:
        """Bytes not yet relayed because they may start a command."""
        return self._held

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        out = bytearray()
        i = 0
        while i < len(data):
            if self._image is not None:
                i = self._take_image(data, i, events)
            elif self._line is not None:
                i = self._take_line(data, i, events)
            elif self._after_end:
                byte = data[i]
                if byte == MAGIC[1 + len(self._held)]:
                    self._held += bytes((byte,))
                    i += 1
                    if len(self._held) == len(MAGIC) - 1:
                        if out:
                            events.append(Passthrough(bytes(out)))
                            out.clear()
                        self._after_end, self._held, self._line = False, b"", bytearray()
                    continue
                out += self._held  # not a command: relay what was held, then this byte
                self._held, self._after_end = b"", False
            else:
                end = data.find(END, i)
                stop = len(data) if end < 0 else end + 1
                out += data[i:stop]
                self._after_end = end >= 0
                i = stop
        if out:
            events.append(Passthrough(bytes(out)))
        return events

    def _take_line(self, data: bytes, i: int, events: list[Event]) -> int:
        assert self._line is not None
        newline = data.find(b"\n", i)
        stop = len(data) if newline < 0 else newline
        self._line += data[i:stop]
        if len(self._line) > MAX_LINE and not self._skipping:
            events.append(Command("ERROR", reason=f"command line longer than {MAX_LINE} bytes"))
            self._skipping = True  # the rest of it, up to its newline, is dropped
        if self._skipping:
            self._line.clear()
        if newline < 0:
            return stop
        if self._skipping:
            self._line, self._skipping = None, False
            return newline + 1
        command = parse_command(bytes(self._line))
        self._line = None
        events.append(command)
        if command.verb == "BOOT":
            self._boot, self._image = command, bytearray()
            if command.size == 0:
                self._finish_image(events)
        return newline + 1

    def _take_image(self, data: bytes, i: int, events: list[Event]) -> int:
        assert self._image is not None and self._boot is not None
        want = self._boot.size - len(self._image)
        chunk = data[i:i + want]
        self._image += chunk
        if len(self._image) == self._boot.size:
            self._finish_image(events)
        return i + len(chunk)

    def _finish_image(self, events: list[Event]) -> None:
        assert self._image is not None and self._boot is not None
        events.append(Image(bytes(self._image), self._boot.sha256))
        self._image, self._boot = None, None

    def abandon(self) -> Command | None:
        """Drop a command line or image that stopped arriving; the ERROR to answer, if any."""
        if self._image is not None and self._boot is not None:
            reason = (f"image stopped after {len(self._image)} of {self._boot.size} bytes")
        elif self._skipping:
            reason = ""
        elif self._line is not None:
            reason = "command line stopped before its newline"
        else:
            return None
        self._line = self._image = None
        self._boot, self._skipping = None, False
        return Command("ERROR", reason=reason) if reason else None


def parse_command(line: bytes) -> Command:
    """One command line (without the magic and the newline)."""
    try:
        words = line.decode("ascii").split()
    except UnicodeDecodeError:
        return Command("ERROR", reason="command line is not ASCII")
    if not words:
        return Command("ERROR", reason="empty command line")
    verb, args = words[0], words[1:]
    if verb == "BOOT":
        if len(args) != 2 or not _SIZE.match(args[0]) or not _SHA.match(args[1]):
            return Command("ERROR", reason="expected BOOT <size> <sha256 hex, lower case>")
        size = int(args[0])
        if size > MAX_IMAGE:
            return Command("ERROR", reason=f"image of {size} bytes: at most {MAX_IMAGE}")
        return Command("BOOT", size=size, sha256=args[1])
    if verb in ("RESET", "HOLD", "INFO"):
        if args:
            return Command("ERROR", reason=f"{verb} takes no arguments")
        return Command(verb)
    return Command("ERROR", reason=f"unknown command {verb[:20]!r}")


def command_bytes(verb: str, *args: object) -> bytes:
    """What the host writes for a command (BOOT's image follows it)."""
    return MAGIC + " ".join([verb, *map(str, args)]).encode("ascii") + b"\n"


# --- the board: a pty, the firmware behind it, the bootloader ----------------------------------


def _open_pty() -> tuple[int, int]:
    """(master, slave), the slave raw (no newline or NUL translation: the stream is binary)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    os.set_inheritable(master, False)
    return master, slave


def _machine(head: bytes) -> int | None:
    """ELF e_machine of a file's first 20 bytes (None: not ELF)."""
    if len(head) < 20 or not head.startswith(b"\x7fELF"):
        return None
    return struct.unpack("<H" if head[5] == 1 else ">H", head[18:20])[0]


class NativeBoard:
    """One emulated Contiki board. `open()` makes the port; `serve()` runs until `stop()`;
    `close()` stops the firmware and removes the port (and a state dir it made)."""

    def __init__(self, link: str | Path, *, short: int, seed: int, medium: str | Path,
                 state: str | Path | None = None) -> None:
        self.link = Path(link)
        self.short = short
        self.seed = seed
        self.medium = Path(medium)
        self.state = None if state is None else Path(state)
        self._own_state = state is None
        self.firmware: subprocess.Popen[bytes] | None = None
        self.dropped = 0  # bytes dropped for a host or a firmware that did not read
        self._outer = self._outer_slave = self._inner = -1
        self._to_host = bytearray()
        self._to_firmware = bytearray()
        self._parser = BootloaderParser()
        self._last_input = time.monotonic()
        self._stopping = False
        self._selector: selectors.BaseSelector = selectors.SelectSelector()  # open() makes it

    @property
    def image(self) -> Path:
        assert self.state is not None
        return self.state / IMAGE_NAME

    @property
    def sha_file(self) -> Path:
        return self.image.with_name(SHA_NAME)

    @property
    def slave_path(self) -> str:
        return os.ttyname(self._outer_slave)

    def say(self, text: str) -> None:
        print(f"native board {self.short}: {text}", file=sys.stderr, flush=True)

    def open(self) -> str:
        if self.state is None:
            self.state = Path(tempfile.mkdtemp(prefix="native-board-"))
        self.state.mkdir(parents=True, exist_ok=True)
        self._selector = selectors.DefaultSelector()
        self._outer, self._outer_slave = _open_pty()  # our slave fd: no EIO while no host
        with contextlib.suppress(FileNotFoundError):
            if self.link.is_symlink():
                self.link.unlink()
        self.link.symlink_to(self.slave_path)
        self._selector.register(self._outer, selectors.EVENT_READ, "outer")
        return self.slave_path

    def stop(self, *_: object) -> None:
        self._stopping = True

    # -- the firmware ----------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                MEDIUM_SOCKET_ENV: str(self.medium), NODE_SHORT_ENV: str(self.short),
                NODE_SEED_ENV: str(self.seed)}

    def start_firmware(self) -> None:
        """Run the installed image; OSError if it cannot start. Main thread only."""
        if not self.image.is_file():
            raise FileNotFoundError(errno.ENOENT, "no firmware installed", str(self.image))
        master, slave = _open_pty()
        try:
            self.firmware = subprocess.Popen(
                dies_with_parent([str(self.image)]), stdin=slave, stdout=slave, stderr=slave,
                env=self.environment(), cwd=self.state, start_new_session=True, close_fds=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._inner = master
        self._to_firmware.clear()
        self._selector.register(master, selectors.EVENT_READ, "inner")

    def stop_firmware(self) -> None:
        """SIGTERM its process group, SIGKILL after STOP_GRACE_S; relay what it wrote last."""
        process, self.firmware = self.firmware, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._inner >= 0:
            self._read_inner()
            self._close_inner()

    def _close_inner(self) -> None:
        if self._inner >= 0:
            self._selector.unregister(self._inner)
            os.close(self._inner)
            self._inner = -1
        self._to_firmware.clear()

    def _read_inner(self) -> bool:
        """Relay the firmware's output; False once its side of the pty is closed."""
        while True:
            try:
                data = os.read(self._inner, 65536)
            except BlockingIOError:
                return True
            except OSError:  # EIO: every slave fd closed (the firmware is gone)
                return False
            if not data:
                return False
            self._send(data)

    # -- the host --------------------------------------------------------------------------

    def _send(self, data: bytes, *, keep: bool = False) -> None:
        """Queue bytes for the host; console bytes past OUTPUT_CAP are dropped (a UART does
        not wait for a reader), a bootloader answer (`keep`) never is."""
        room = OUTPUT_CAP - len(self._to_host)
        if room < len(data) and not keep:
            self.dropped += len(data) - max(room, 0)
            data = data[:max(room, 0)]
        self._to_host += data
        self._flush_host()

    def _flush_host(self) -> None:
        while self._to_host:
            try:
                written = os.write(self._outer, self._to_host)
            except (BlockingIOError, OSError):
                break
            del self._to_host[:written]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._to_host else 0)
        self._selector.modify(self._outer, events, "outer")

    def answer(self, ok: bool, text: str = "") -> None:
        word = "OK" if ok else "ERR"
        line = f"{word} {text}".rstrip() if text else word
        self._send(ANSWER + line.encode("utf-8", "replace") + b"\n", keep=True)

    def _read_outer(self) -> None:
        try:
            data = os.read(self._outer, 65536)
        except (BlockingIOError, OSError):
            return
        self._last_input = time.monotonic()
        for event in self._parser.feed(data):
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Passthrough):
            if self._inner >= 0:  # a board in reset hears nothing
                room = max(OUTPUT_CAP - len(self._to_firmware), 0)  # a stuck app: overrun
                self.dropped += max(len(event.data) - room, 0)
                self._to_firmware += event.data[:room]
                self._flush_firmware()
        elif isinstance(event, Image):
            self._install(event)
        elif event.verb == "BOOT":  # the image follows: stop and erase now
            self.stop_firmware()
            self.image.unlink(missing_ok=True)
            self.sha_file.unlink(missing_ok=True)
        elif event.verb == "RESET":
            self.stop_firmware()
            if not self.image.is_file():
                self.answer(False, "no firmware installed")
                return
            self.answer(True)  # before the firmware's first output
            try:
                self.start_firmware()
            except OSError as exc:
                self.say(f"cannot start {self.image}: {exc.strerror or exc}")
        elif event.verb == "HOLD":
            self.stop_firmware()
            self.answer(True)
        elif event.verb == "INFO":
            self.answer(True, self.info())
        else:
            self.answer(False, event.reason)

    def info(self) -> str:
        running = self.firmware is not None and self.firmware.poll() is None
        if not self.image.is_file():
            return "empty 0 -"
        sha = self.sha_file.read_text().strip()
        return f"{'running' if running else 'held'} {self.image.stat().st_size} {sha}"

    def _install(self, image: Image) -> None:
        got = hashlib.sha256(image.data).hexdigest()
        if got != image.sha256:
            self.answer(False, f"sha256 mismatch: received {got}, announced {image.sha256}; "
                               "nothing installed")
            return
        machine, ours = _machine(image.data[:20]), _machine(_own_head())
        if not image.data.startswith(b"#!") and machine != ours:
            what = "not an ELF executable" if machine is None else f"ELF for machine {machine}"
            self.answer(False, f"image is {what}, this board runs machine {ours} "
                               "(build with TARGET=medium); nothing installed")
            return
        part = self.image.with_name(IMAGE_NAME + ".part")
        part.write_bytes(image.data)
        part.chmod(0o755)
        part.replace(self.image)
        self.sha_file.write_text(got + "\n")
        self.answer(True, f"{len(image.data)} {got}")

    def _flush_firmware(self) -> None:
        while self._to_firmware and self._inner >= 0:
            try:
                written = os.write(self._inner, self._to_firmware)
            except BlockingIOError:
                break
            except OSError:
                self._to_firmware.clear()
                break
            del self._to_firmware[:written]
        if self._inner >= 0:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._to_firmware else 0)
            self._selector.modify(self._inner, events, "inner")

    # -- the loop --------------------------------------------------------------------------

    def power_on(self) -> None:
        """Run the installed image, as a board does when it gets power."""
        if self.image.is_file():
            try:
                self.start_firmware()
            except OSError as exc:
                self.say(f"cannot start {self.image}: {exc.strerror or exc}")

    def serve(self) -> None:
        while not self._stopping:
            for key, mask in self._selector.select(timeout=0.2):
                if key.data == "outer":
                    if mask & selectors.EVENT_WRITE:
                        self._flush_host()
                    if mask & selectors.EVENT_READ:
                        self._read_outer()
                elif key.data == "inner" and self._inner >= 0:
                    if mask & selectors.EVENT_WRITE:
                        self._flush_firmware()
                    if mask & selectors.EVENT_READ and not self._read_inner():
                        self._close_inner()
            if self._parser.busy and time.monotonic() - self._last_input > COMMAND_TIMEOUT_S:
                error = self._parser.abandon()
                if error is not None:
                    self.answer(False, error.reason)
            if self.firmware is not None and self.firmware.poll() is not None:
                if self._inner >= 0 and not self._read_inner():
                    self._close_inner()
                if self._inner < 0:
                    self.say(f"firmware exited with status {self.firmware.returncode}")
                    self.firmware = None

    def close(self) -> None:
        self.stop_firmware()
        if self.dropped:
            self.say(f"{self.dropped} bytes dropped (nobody read them)")
        with contextlib.suppress(OSError):
            if self.link.is_symlink() and os.readlink(self.link) == self.slave_path:
                self.link.unlink()
        for fd in (self._outer, self._outer_slave):
            if fd >= 0:
                os.close(fd)
        self._outer = self._outer_slave = -1
        self._selector.close()
        if self._own_state and self.state is not None:
            shutil.rmtree(self.state, ignore_errors=True)


def _own_head() -> bytes:
    """The first bytes of this interpreter's executable: the machine the board runs."""
    with open("/proc/self/exe", "rb") as f:
        return f.read(20)


def serve_argv(link: str | Path, *, short: int, seed: int, medium: str | Path,
               state: str | Path | None = None, python: str = sys.executable) -> list[str]:
    """The argv of a board process (start it with dies_with_parent, read `READY <pty>`)."""
    argv = [python, "-m", MODULE, "serve", "--link", str(link), "--short", str(short),
            "--seed", str(seed), "--medium", str(medium)]
    return argv + ([] if state is None else ["--state", str(state)])


# --- the host side: the flasher ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlashReport:
    port: str
    image: str
    bytes: int
    sha256: str
    seconds: float


class BootloaderClient:
    """The host end of the bootloader on a port pyserial opens (a pty path, rfc2217://...)."""

    def __init__(self, port: str, *, timeout_s: float = TIMEOUT_S, serial: Any = None) -> None:
        """serial: a port the caller holds open already (a lab's console): commands go
        through it, nothing read is flushed, and what followed an answer is kept in `after`."""
        self.port = port
        self.timeout_s = timeout_s
        self._serial: Any = serial
        self._borrowed = serial is not None
        self.before = b""  # what the board sent before the last answer (its console)
        self.after = b""  # what it sent after it (RESET: the firmware's first output)

    def __enter__(self) -> BootloaderClient:
        import serial  # config and the board side need no pyserial

        if self._borrowed:
            return self
        try:
            self._serial = serial.serial_for_url(self.port, baudrate=BAUDRATE, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise FlashError(f"board port {self.port}: cannot open: {exc}") from None
        try:
            self._serial.write_timeout = self.timeout_s
        except NotImplementedError:  # rfc2217:// has none (pyserial 3.5): TCP's own then
            self._serial.write_timeout = None
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._borrowed:
            self._serial.close()

    def command(self, verb: str, *args: object, payload: bytes = b"",
                timeout_s: float | None = None) -> str:
        """Send one command (and its payload); the OK answer's text, FlashError on ERR."""
        import serial

        kept = self._serial.timeout
        try:
            self._serial.timeout = 0.05  # a console's own timeout may be None (blocking)
            if not self._borrowed:
                self._serial.reset_input_buffer()  # the console's old output holds no answer
            self._serial.write(command_bytes(verb, *args) + payload)
            self._serial.flush()
            return self._answer(verb, self.timeout_s if timeout_s is None else timeout_s)
        except (serial.SerialException, OSError) as exc:
            raise FlashError(f"board port {self.port}: {verb}: {exc}") from None
        finally:
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.timeout = kept

    def _answer(self, verb: str, timeout_s: float) -> str:
        seen = bytearray()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen += self._serial.read(4096)
            start = seen.find(ANSWER)
            end = -1 if start < 0 else seen.find(b"\n", start)
            if end >= 0:
                self.before, self.after = bytes(seen[:start]), bytes(seen[end + 1:])
                line = seen[start + len(ANSWER):end].decode("utf-8", "replace")
                word, _, text = line.partition(" ")
                if word == "OK":
                    return text
                raise FlashError(f"board port {self.port}: {verb}: the board answered: "
                                 f"{text or line}")
        raise FlashError(f"board port {self.port}: {verb}: no answer within {timeout_s:g} s "
                         f"(is it a native board?); last bytes: {bytes(seen[-60:])!r}")

    def boot(self, image: bytes) -> str:
        """Write `image` into the board (its firmware stops); the sha256 the board checked."""
        sha = hashlib.sha256(image).hexdigest()
        wait = self.timeout_s + len(image) / 1e6  # 1 MB/s at the least
        self.command("BOOT", len(image), sha, payload=image, timeout_s=wait)
        return sha

    def reset(self) -> None:
        self.command("RESET")

    def hold(self) -> None:
        self.command("HOLD")

    def info(self) -> str:
        return self.command("INFO")


def reset_console(console: Any, *, port: str = "", timeout_s: float = TIMEOUT_S) -> bytes:
    """RESET the board through a console the caller holds open (a pyserial port), so its
    boot lines are not lost to a later open (pyserial flushes input on open). Returns what
    the board sent after the answer: the start of the firmware's output, for the console."""
    client = BootloaderClient(port or str(getattr(console, "port", "?")), timeout_s=timeout_s,
                              serial=console)
    client.reset()
    return client.after


def flash(port: str, image: Path, *, timeout_s: float = TIMEOUT_S,
          reset: bool = True) -> FlashReport:
    """Put `image` on the native board at `port` and reset it (BadInput: no such image)."""
    try:
        data = Path(image).read_bytes()
    except OSError as exc:
        raise BadInput(f"{image}: cannot read image: {exc.strerror or exc}") from None
    started = time.monotonic()
    with BootloaderClient(port, timeout_s=timeout_s) as board:
        sha = board.boot(data)
        if reset:
            board.reset()
    return FlashReport(port, str(image), len(data), sha, time.monotonic() - started)


# --- the command line --------------------------------------------------------------------------


class _Arguments(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"native_board: {message}")


def _short(text: str) -> int:
    value = int(text, 0)
    if not 1 <= value <= MAX_SHORT:
        raise ValueError(text)
    return value


def _arguments() -> argparse.ArgumentParser:
    parser = _Arguments(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="play one board")
    serve.add_argument("--link", required=True, type=Path, help="symlink to the board's pty")
    serve.add_argument("--short", required=True, type=_short, help="its short address")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--medium", required=True, type=Path, help="the medium's frame socket")
    serve.add_argument("--state", type=Path, help="its flash (default: a temporary folder)")
    for action in ("flash", "reset", "hold", "info"):
        command = sub.add_parser(action)
        command.add_argument("port", help="a pty path or a pyserial URL (rfc2217://host:port)")
        if action == "flash":
            command.add_argument("image", type=Path)
            command.add_argument("--no-reset", action="store_true")
        command.add_argument("--timeout", type=float, default=TIMEOUT_S)
    return parser


def _serve(args: argparse.Namespace) -> int:
    if not args.link.parent.is_dir():
        raise BadInput(f"--link {args.link}: no folder {args.link.parent}")
    board = NativeBoard(args.link, short=args.short, seed=args.seed, medium=args.medium,
                        state=args.state)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, board.stop)
    # SIGTERM, not setpriv's SIGKILL, when the parent goes: the firmware stopped, the link
    # removed (the firmware would die with us anyway: it has its own death signal)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    try:
        print(f"READY {board.open()}", flush=True)
        board.power_on()
        board.serve()
    finally:
        board.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = None
    try:
        args = _arguments().parse_args(argv)
        if args.action == "serve":
            return _serve(args)
        if args.action == "flash":
            if not args.image.is_file():
                raise BadInput(f"{args.image}: no such image to flash")
            report = flash(args.port, args.image, timeout_s=args.timeout,
                           reset=not args.no_reset)
            print(f"flashed {report.image} to {report.port}: {report.bytes} bytes, sha256 "
                  f"{report.sha256}, {report.seconds:.3f} s"
                  f"{'' if args.no_reset else '; board reset'}", flush=True)
            return 0
        with BootloaderClient(args.port, timeout_s=args.timeout) as board:
            text = getattr(board, args.action)()
        print(f"{args.port}: {args.action}{' ' + text if text else ''}: ok", flush=True)
        return 0
    except BadInput as exc:
        print(exc, file=sys.stderr)
        return 2
    except FlashError as exc:
        print(f"native_board: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a flasher's failure is one line, not a traceback
        port = getattr(args, "port", None) or getattr(args, "link", "?")
        action = getattr(args, "action", "?")
        print(f"native_board: board port {port}: {action}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
