"""A lab board is usable here or says why; opening it yields the port a REPL or sniffer uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from tests.qemu import our_qemus
from testbed.backends.boards import board_missing, open_board
from testbed.backends.qemu import BoardError, QemuMicrobit
from testbed.config.lab import Board



@pytest.fixture
def tty() -> Iterator[str]:
    """A serial device node that really exists: the slave side of a fresh pty."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_a_device_path_is_there_or_named_as_missing(tmp_path: Path, tty: str) -> None:
    absent = Board(name="cc1", platform="contiki", port=str(tmp_path / "ttyUSB9"))
    assert board_missing(absent) == (f"board cc1: no contiki board on {tmp_path}/ttyUSB9 "
                                      "(plugged in?)")
    with pytest.raises(BoardError, match=r"^board cc1: no contiki board on "), \
            open_board(absent):
        pass
    present = Board(name="mb1", platform="micropython", port=tty)
    assert board_missing(present) is None
    with open_board(present) as port:
        assert port == tty


def test_a_url_is_taken_as_present_and_yielded_as_written() -> None:
    remote = Board(name="mb3", platform="micropython", port="rfc2217://labhost:4000")
    assert board_missing(remote) is None
    with open_board(remote) as port:
        assert port == "rfc2217://labhost:4000"


def test_the_emulator_is_missing_exactly_when_qemu_says_so() -> None:
    board = Board(name="qemu1", platform="micropython", emulator="qemu-microbit")
    reason = QemuMicrobit().missing()
    assert board_missing(board) == (None if reason is None else f"board qemu1: {reason}")


def test_the_emulator_boots_answers_on_its_port_and_is_killed_after() -> None:
    if QemuMicrobit().missing():
        pytest.skip(QemuMicrobit().missing())
    board = Board(name="qemu1", platform="micropython", emulator="qemu-microbit")
    started: list[int] = []
    with open_board(board, on_start=started.append) as port:
        assert port.startswith("/dev/pts/")
        assert started and started[0] in our_qemus()
        with serial.Serial(port, board.baudrate, timeout=3) as tty:
            tty.write(b"\r\x03")
            assert tty.read_until(b">>> ").endswith(b">>> ")
    assert started[0] not in our_qemus()
