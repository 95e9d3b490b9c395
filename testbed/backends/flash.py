"""Putting node firmware on a lab board: one flasher per board platform, listed in FLASHERS.

What it is:
- `RawReplFlasher` (MicroPython): writes an app's .py files (nodes/coap-sensor/, or given
  files) to the board's filesystem over the raw REPL, file by file, then reads every file
  back (length and checksum) in one go; progress is reported in bytes.
- `CommandFlasher` (Contiki): runs the lab file's argv template (`flasher:`), `{image}` and
  `{port}` replaced inside their own argument; no shell ever; a timeout; its output goes to
  a log whose last lines a failure quotes.
- `RemoteCommandFlasher` (Contiki on a lab host, `host:`): the same argv run ON that host over
  SSH (remote.py): the image copied there first, `{port}` the board's `device:` there.

What it is not: a board backend (boards.py boots QEMU or names the port) nor a raw-REPL
client (raw_repl.py; tests may pass another `open_repl`).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from testbed.config.lab import PLACEHOLDERS, Board, BoardPlatform, Host, Lab
from testbed.backends.processes import dies_with_parent, kill_process_group
from testbed.backends.raw_repl import RawRepl, text_checksum
from testbed.errors import BadInput, FlashError, TestbedError

#: progress(done_bytes, total_bytes, name of the file being written)
ProgressCallback = Callable[[int, int, str], object]
TAIL_LINES = 5  # lines of a failed flasher's log that its error message quotes
KILL_GRACE_S = 2.0  # a flasher past its timeout (or Ctrl-C) gets this long after SIGTERM
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@dataclass(frozen=True, slots=True)
class FlashResult:
    """What one flashing did: for `testbed flash --json` and the plugin."""

    board: str
    platform: str
    port: str
    files: tuple[str, ...]
    bytes: int
    seconds: float
    verified: bool
    log: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {"board": self.board, "platform": self.platform, "port": self.port,
                "files": list(self.files), "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "verified": self.verified,
                "log": None if self.log is None else str(self.log)}


class Flasher(Protocol):
    """Puts `image` (an app directory or files, a firmware file) on the board at `port`."""

    def flash(self, image: Path | Sequence[Path] | None, *, port: str,
              progress: ProgressCallback | None = None) -> FlashResult: ...


# --- MicroPython: files over the raw REPL -----------------------------------------------------


class ReplSession(Protocol):
    """The part of testbed.backends.raw_repl.RawRepl a deployment uses."""

    def exec(self, code: str, *, timeout_s: float | None = None) -> str: ...
    def write_file(self, name: str, text: str) -> None: ...


#: open_repl(port, baudrate=...) -> a context manager giving a ReplSession (RawRepl is one)
OpenRepl = Callable[..., AbstractContextManager[ReplSession]]

# read every file back on the board: "<name> <characters> <checksum>" per line (the checksum
# is raw_repl.text_checksum's, computed in 64-character pieces: the micro:bit has a 10 kB heap)
# A line that is not exactly that, for a file deployed, is the board's noise and is ignored.
_READ_BACK_LINE = re.compile(r"(\S+) (-?\d+) (\d+)")
_READ_BACK = (
    "def _tb(n):\n try:\n  f=open(n)\n except OSError:\n  print(n,-1,0)\n  return\n"
    " k=0\n s=0\n while 1:\n  b=f.read(64)\n  if not b:\n   break\n  k+=len(b)\n"
    "  for c in b:\n   s=(s*31+ord(c))&0xffffff\n f.close()\n print(n,k,s)\n"
    "for _n in %r:\n _tb(_n)\ndel _tb\n"
)


def app_files(image: Path | Sequence[Path]) -> list[Path]:
    """The files to deploy: a directory's top-level .py files (sorted; its tests/ and other
    folders stay home), one file, or the files given. BadInput for what is not there or
    could not be told apart on the board (two files of one name, a name with a space)."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if p.suffix == ".py" and p.is_file())
            if not candidates:
                raise BadInput(f"{path}: no .py files to deploy")
        else:
            candidates = [path]
    else:
        candidates = [Path(p) for p in image]
    if not candidates:
        raise BadInput("nothing to deploy: no files given")
    seen: dict[str, Path] = {}
    for path in candidates:
        if not path.is_file():
            raise BadInput(f"{path}: is a directory: give one app directory, or files only"
                           if path.is_dir() else f"{path}: no such file to deploy")
        if any(c.isspace() for c in path.name):
            raise BadInput(f"{path}: cannot deploy {path.name!r}: the board's flat "
                           "filesystem takes one-word names (the read-back lists each file as "
                           "'<name> <characters> <checksum>'); rename it")
        if path.name in seen:  # the board's filesystem is flat
            raise BadInput(f"{path}: the board would get two files named {path.name!r} "
                           f"(also {seen[path.name]})")
        seen[path.name] = path
    return candidates


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte offset {exc.start})") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None


@dataclass(frozen=True, kw_only=True)
class RawReplFlasher:
    """Deploy a MicroPython app over the raw REPL (Ctrl-A ... Ctrl-D), then verify it.
    The constructor does no I/O; `flash` opens the port."""

    board: Board
    open_repl: OpenRepl = RawRepl

    def flash(self, image: Path | Sequence[Path] | None, *, port: str,
              progress: ProgressCallback | None = None) -> FlashResult:
        if image is None:
            raise BadInput(f"board {self.board.name}: nothing to deploy (give an app)")
        files = app_files(image)
        texts = {path.name: _read_text(path) for path in files}
        total = sum(len(text.encode()) for text in texts.values())
        report = progress or (lambda done, total, name: None)
        started = time.monotonic()
        done = 0
        name = next(iter(texts))
        try:
            with self.open_repl(port, baudrate=self.board.baudrate) as repl:
                for name, text in texts.items():
                    report(done, total, name)
                    repl.write_file(name, text)
                    done += len(text.encode())
                    report(done, total, name)
                name = "(read-back)"
                self._verify(repl, texts)
        except FlashError:
            raise
        except TestbedError as exc:
            full = " (no space left on the board's filesystem)" if "OSError: 28" in str(exc) else ""
            raise FlashError(f"board {self.board.name}: {name}: {exc}{full}; {done} of {total} "
                             "bytes written") from exc
        return FlashResult(board=self.board.name, platform=str(self.board.platform), port=port,
                           files=tuple(texts), bytes=total,
                           seconds=time.monotonic() - started, verified=True)

    def _verify(self, repl: ReplSession, texts: dict[str, str]) -> None:
        got: dict[str, tuple[int, int]] = {}
        for line in repl.exec(_READ_BACK % (list(texts),)).splitlines():
            match = _READ_BACK_LINE.fullmatch(line.strip())
            if match and match[1] in texts:
                got[match[1]] = (int(match[2]), int(match[3]))
        for name, text in texts.items():
            expected = (len(text), text_checksum(text))
            if got.get(name) != expected:
                found = got.get(name)
                seen = ("absent" if found is None or found[0] < 0
                        else f"{found[0]} characters, checksum {found[1]}")
                raise FlashError(f"board {self.board.name}: {name}: read back as {seen}, "
                                 f"expected {expected[0]} characters, checksum {expected[1]}")

    @classmethod
    def for_board(cls, board: Board, lab: Lab, *, open_repl: OpenRepl | None = None,
                  **_: Any) -> RawReplFlasher:
        return cls(board=board, open_repl=open_repl or RawRepl)


# --- Contiki: the lab's own flasher command ---------------------------------------------------


def substitute(template: Sequence[str], *, image: str, port: str,
               python: str = sys.executable) -> list[str]:
    """The argv with `{image}`, `{port}` and `{python}` (the interpreter the testbed runs on,
    for flashers written in Python) replaced inside each argument; every argument stays one
    argument, and nothing else in it is interpreted (no shell, no format specs)."""
    values = {"image": image, "port": port, "python": python}
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], argument) for argument in template]


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


@dataclass(frozen=True, kw_only=True)
class CommandFlasher:
    """Run the lab's flasher argv for a Contiki board. Runs in `cwd` (the lab file's
    directory: relative paths in the template mean what they mean in the file)."""

    board: Board
    argv: tuple[str, ...]
    log: Path
    cwd: Path | None = None
    timeout_s: float = 300.0
    source: str = "lab file"  # what to name in a bad-input message

    def check_image(self, image: Path | None) -> None:
        """BadInput unless the image the template names ({image}) is there to flash."""
        if any("{image}" in argument for argument in self.argv):
            if image is None:
                raise BadInput(f"{self.source}: board {self.board.name}: the flasher uses "
                               "{image} but the board has no image")
            if not Path(image).is_file():
                raise BadInput(f"{self.source}: board {self.board.name}: image {image} not "
                               "found (build it first, or fix `image:`)")

    def one_image(self, image: Path | Sequence[Path] | None) -> Path | None:
        """The one firmware file a Contiki board takes, checked (check_image), or None."""
        if image is not None and not isinstance(image, (str, Path)):
            raise BadInput(f"board {self.board.name}: a Contiki board takes one firmware image")
        image = None if image is None else Path(image)
        self.check_image(image)
        return image

    @property
    def where(self) -> str:
        """The board as a failure names it."""
        return f"board {self.board.name}"

    def check_port(self) -> None:
        """BadInput when {port} cannot be filled in (a remote board without its device)."""

    def flash(self, image: Path | Sequence[Path] | None, *, port: str,
              progress: ProgressCallback | None = None) -> FlashResult:
        image = self.one_image(image)
        self.check_port()
        size = image.stat().st_size if image is not None and image.is_file() else 0
        name = "(no image)" if image is None else image.name
        report = progress or (lambda done, total, name: None)
        report(0, size, name)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        program, status, tail = self._execute(image, port)
        if status != 0:
            raise FlashError(f"{self.where}: {program} exited with status {status}"
                             f"{'; last lines: ' + tail if tail else ' (no output)'}; "
                             f"full log: {self.log}")
        report(size, size, name)
        return FlashResult(board=self.board.name, platform=str(self.board.platform), port=port,
                           files=() if image is None else (image.name,), bytes=size,
                           seconds=time.monotonic() - started, verified=False, log=self.log)

    def _execute(self, image: Path | None, port: str) -> tuple[str, int, str]:
        """Run the flasher here: (program, exit status, the log's last lines)."""
        argv = substitute(self.argv, image="" if image is None else str(image), port=port)
        status = self._run(argv)
        return argv[0], status, _tail(self.log)

    def _run(self, argv: list[str]) -> int:
        with open(self.log, "wb") as log:
            log.write(f"$ {argv!r}\n".encode())
            log.flush()
            try:
                process = subprocess.Popen(dies_with_parent(argv, lasting=False),
                                           stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, cwd=self.cwd,
                                           start_new_session=True)  # killed as a group
            except OSError as exc:
                raise FlashError(f"board {self.board.name}: cannot run {argv[0]!r}: "
                                 f"{exc.strerror or exc}") from None
            try:
                return process.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                kill_process_group(process, grace_s=KILL_GRACE_S)
                tail = _tail(self.log)
                raise FlashError(f"board {self.board.name}: {argv[0]} did not finish within "
                                 f"{self.timeout_s:g} s{'; last lines: ' + tail if tail else ''}"
                                 f"; full log: {self.log}") from None
            finally:  # also on Ctrl-C, and for what the flasher forked: none left writing
                kill_process_group(process, grace_s=KILL_GRACE_S)

    @classmethod
    def for_board(cls, board: Board, lab: Lab, *, log_dir: Path = Path("reports/flash"),
                  timeout_s: float = 300.0, **_: Any) -> CommandFlasher:
        source = _shown(lab)
        if board.flasher is None:
            raise BadInput(f"{source}: board {board.name} has no flasher (add `flasher: "
                           f"[program, args..., '{{image}}']` under boards.{board.name})")
        return cls(board=board, argv=board.flasher, log=Path(log_dir) / f"{board.name}.log",
                   cwd=lab.directory,  # where lab.image_path takes relative images from
                   timeout_s=timeout_s, source=source)


@dataclass(frozen=True, kw_only=True)
class RemoteCommandFlasher(CommandFlasher):
    """Run a Contiki board's flasher argv ON the lab host it is plugged into (`host:`), over
    SSH (testbed/backends/remote.py): the image is copied there first and `{image}` names
    that copy; `{port}` is the board's device there (`device:`), not the rfc2217:// URL that
    reaches its console from here; `{python}` is the host's python3. Runs in the SSH user's
    home there; its output comes back into `log` as it is written."""

    host: Host
    identity: Path | None = None
    known_hosts: Path | None = None
    device: str | None = None

    @property
    def where(self) -> str:
        return f"board {self.board.name} on host {self.host.name}"

    def check_port(self) -> None:
        if self.device is None and any("{port}" in argument for argument in self.argv):
            raise BadInput(f"{self.source}: board {self.board.name}: the flasher uses {{port}} "
                           f"and runs on host {self.host.name}: give the board's serial device "
                           f"there (`device: /dev/ttyUSB0` under boards.{self.board.name})")

    def _execute(self, image: Path | None, port: str) -> tuple[str, int, str]:
        """Copy the image there, run the flasher there: (program, exit status, last lines)."""
        from testbed.backends.remote import LabHost
        from testbed.errors import RemoteError

        self.log.write_text("")  # this flashing's log, as CommandFlasher's
        options: dict[str, Any] = {} if self.known_hosts is None else {
            "known_hosts": self.known_hosts}
        try:
            with LabHost(self.host, log=self.log, identity=self.identity, **options) as there:
                copied = "" if image is None else there.put(image)
                argv = substitute(self.argv, image=copied, port=self.device or "",
                                  python="python3")  # the host's, not this interpreter
                done = there.run(argv, timeout_s=self.timeout_s, check=False)
                tail = _tail(self.log)  # the flasher's last lines, before the clean-up's
        except RemoteError as exc:
            raise FlashError(f"{self.where}: {exc}") from None
        return argv[0], done.status, tail

    @classmethod
    def for_board(cls, board: Board, lab: Lab, *, log_dir: Path = Path("reports/flash"),
                  timeout_s: float = 300.0, **_: Any) -> RemoteCommandFlasher:
        from testbed.backends.remote import LabHost

        local = CommandFlasher.for_board(board, lab, log_dir=log_dir, timeout_s=timeout_s)
        assert board.host is not None
        there = LabHost.for_lab(lab, board.host, log=local.log)  # checks its files exist
        return cls(board=board, argv=local.argv, log=local.log, cwd=None, timeout_s=timeout_s,
                   source=local.source, host=there.host, identity=there.identity,
                   known_hosts=there.known_hosts, device=board.device)


def _shown(lab: Lab) -> str:
    """The lab as a bad-input message names it: its file, or its name when parsed from text."""
    return str(lab.source) if lab.source is not None else f"lab {lab.name}"


# --- the registry -----------------------------------------------------------------------------


FLASHERS: dict[BoardPlatform, type[RawReplFlasher] | type[CommandFlasher]] = {
    BoardPlatform.MICROPYTHON: RawReplFlasher,
    BoardPlatform.CONTIKI: CommandFlasher,
}


def flasher_for(board: Board, lab: Lab, **options: Any) -> Flasher:
    """The flasher for `board`'s platform, configured from the lab file. Options:
    open_repl (MicroPython), log_dir and timeout_s (Contiki). A Contiki board on a lab host
    (`host:`) gets a RemoteCommandFlasher: its flasher runs there, over SSH."""
    kind = FLASHERS.get(board.platform)
    if kind is CommandFlasher and board.host is not None:  # the flasher runs where the board is
        return RemoteCommandFlasher.for_board(board, lab, **options)
    if kind is None:
        raise BadInput(f"{_shown(lab)}: board {board.name}: {board.platform} boards are not "
                       "flashed by the testbed (flash them with their own tools)")
    return kind.for_board(board, lab, **options)
