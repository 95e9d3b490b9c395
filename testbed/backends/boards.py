"""Reaching a lab board: is it usable here, and which serial port speaks to it.

What it is: the bridge from a lab file's `Board` (testbed/config/lab.py) to the board
backends: QEMU's micro:bit (qemu.py) for `emulator: qemu-microbit`, a local serial device
(serial_board.py) for a path, and a pyserial URL (rfc2217://host:port, socket://...) for a
board on another host, taken as present (only opening it can tell). What it is not: a
flasher (flash.py) or a REPL client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from testbed.backends.qemu import BoardError, QemuMicrobit
from testbed.backends.serial_board import SerialBoard
from testbed.config.lab import Board


def is_url(port: str) -> bool:
    """A pyserial URL (rfc2217://labhost:4000) rather than a device path."""
    return "://" in port


#: emulated boards that exist only while a run on the lab's boards plays them (backends/lab.py)
RUN_ONLY = {"contiki-native": "a native board is plugged in by a run on the lab's boards "
                              "(testbed compare --lab) and exists only while it runs",
            "medium": "the medium's sniffer exists only while a run on the lab's boards runs; "
                      "its frames are that run's capture.pcap"}


def _backend(board: Board, on_start: Callable[[int], object] | None = None
             ) -> QemuMicrobit | SerialBoard | None:
    if board.emulator == "qemu-microbit":
        return QemuMicrobit(on_start=on_start)
    assert board.port is not None, "a lab board has a port or an emulator (lab.py checks it)"
    if is_url(board.port):
        return None
    return SerialBoard(port=board.port, platform=str(board.platform))


def board_missing(board: Board) -> str | None:
    """Why `board` cannot be used on this machine (with the fix), or None when it can."""
    if board.emulator in RUN_ONLY:
        return f"board {board.name}: {RUN_ONLY[board.emulator]}"
    backend = _backend(board)
    if backend is None:
        return None
    reason = backend.missing()
    if reason is None:
        return None
    if isinstance(backend, SerialBoard):  # serial_board.py's hint speaks of micro:bits only
        return f"board {board.name}: no {board.platform} board on {board.port} (plugged in?)"
    return f"board {board.name}: {reason}"


@contextmanager
def open_board(board: Board, *, on_start: Callable[[int], object] | None = None
               ) -> Iterator[str]:
    """Yield the serial port of `board`: an emulator is booted for the block (and killed
    after it, also on exceptions; `on_start` is told its pid); a device or URL is yielded
    as written. Raises BoardError when the board is missing."""
    reason = board_missing(board)
    if reason:
        raise BoardError(reason)
    backend = _backend(board, on_start)
    if backend is None:
        assert board.port is not None
        yield board.port
        return
    with backend.open() as port:
        yield port
