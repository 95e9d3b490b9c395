"""The QEMU micro:bit backend: boots the real firmware, yields its pty, never leaks QEMU."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import serial

from tests.qemu import our_qemus
from testbed.backends.qemu import INSTALL_HINT, BoardError, QemuMicrobit
from testbed.backends.serial_board import SerialBoard



@pytest.fixture
def board() -> QemuMicrobit:
    board = QemuMicrobit()
    if board.missing():
        pytest.skip(board.missing())
    return board


def test_the_pty_answers_with_micropython(board: QemuMicrobit) -> None:
    with board.open() as port:
        assert port.startswith("/dev/pts/")
        assert len(our_qemus()) == 1
        with serial.Serial(port, 115200, timeout=3) as tty:
            tty.write(b"\r\x03")
            seen = tty.read_until(b">>> ")
        assert seen.endswith(b">>> ")
    assert not os.path.exists(port) or not our_qemus()


def test_qemu_is_killed_on_an_exception(board: QemuMicrobit) -> None:
    with pytest.raises(RuntimeError, match="boom"), board.open():
        assert our_qemus()
        raise RuntimeError("boom")
    assert not our_qemus()


def test_argv_is_a_list_with_the_firmware() -> None:
    argv = QemuMicrobit(firmware=Path("/x/fw.hex")).argv()
    assert argv == ["qemu-system-arm", "-M", "microbit", "-device", "loader,file=/x/fw.hex",
                    "-nographic", "-serial", "pty", "-monitor", "none"]


def test_missing_qemu_or_firmware_says_what_to_install(tmp_path: Path) -> None:
    expected = f"QEMU micro:bit not installed: {INSTALL_HINT}"
    assert QemuMicrobit(qemu="tb-no-such-qemu").missing() == expected
    assert QemuMicrobit(firmware=tmp_path / "none.hex").missing() == expected
    with pytest.raises(BoardError, match="^QEMU micro:bit not installed: apt-get install"):
        with QemuMicrobit(qemu="tb-no-such-qemu").open():
            pass


def test_qemu_that_exits_early_is_one_clear_error() -> None:
    # `false` stands in for a QEMU that dies before naming its pty (wrong machine, bad flags)
    with pytest.raises(BoardError, match=r"^false exited with status 1 before naming its pty; "
                                         r"output: b''$"):
        with QemuMicrobit(qemu="false").open():
            pass


def test_a_serial_board_without_hardware() -> None:
    board = SerialBoard(port="/dev/tb-no-such-tty")
    assert board.missing() == "no board on /dev/tb-no-such-tty (plug in a micro:bit running " \
                              "MicroPython)"
    with pytest.raises(BoardError, match="no board on /dev/tb-no-such-tty"), board.open():
        pass


def test_the_pid_is_told_as_soon_as_qemu_runs() -> None:
    """A run records QEMU's pid in its registry entry, so `testbed clean` can reach it."""
    pids: list[int] = []
    board = QemuMicrobit(on_start=pids.append)
    if board.missing():
        pytest.skip(board.missing())
    with board.open():
        (pid,) = pids
        assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"qemu-system-arm")
    gone = not Path(f"/proc/{pid}").exists()
    assert gone or b"qemu" not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_qemu_dies_with_a_testbed_killed_by_sigkill(board: QemuMicrobit, tmp_path: Path) -> None:
    """A `testbed flash` or pytest killed with SIGKILL runs no `finally`: QEMU must not stay
    behind holding its pty (PR_SET_PDEATHSIG through setpriv)."""
    import signal
    import sys
    import time

    script = ("import sys, time\n"
              "from testbed.backends.qemu import QemuMicrobit\n"
              "board = QemuMicrobit(on_start=lambda pid: print(pid, flush=True))\n"
              "with board.open() as port:\n"
              "    print('up', flush=True)\n"
              "    time.sleep(60)\n")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        qemu = int(owner.stdout.readline())
        assert owner.stdout.readline().strip() == "up"
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{qemu}") and time.monotonic() < deadline:
            with open(f"/proc/{qemu}/stat") as stat:
                if stat.read().split(") ")[1].startswith("Z"):
                    break  # killed; only init's reaping is left
            time.sleep(0.05)
        state = open(f"/proc/{qemu}/stat").read().split(") ")[1][0] if os.path.exists(
            f"/proc/{qemu}") else "gone"
        assert state in ("Z", "gone"), f"qemu {qemu} outlived its owner (state {state})"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
