"""QEMU micro:bit helpers shared by the tests of backends/ and memory/: a booted board's pty,
and a guard that no QEMU this pytest started outlives a test."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from testbed.backends.qemu import QemuMicrobit


def our_qemus() -> set[int]:
    """qemu-system-arm processes this pytest started (children of it: another session's QEMU
    on the same machine is not ours)."""
    done = subprocess.run(["pgrep", "-x", "-P", str(os.getpid()), "qemu-system-arm"],
                          capture_output=True, text=True, check=False)
    return {int(pid) for pid in done.stdout.split()}


@pytest.fixture(autouse=True)
def no_leaked_qemu() -> Iterator[None]:
    before = our_qemus()
    yield
    leaked = our_qemus() - before
    assert not leaked, f"qemu-system-arm left running: pids {sorted(leaked)}"


@pytest.fixture
def microbit_port() -> Iterator[str]:
    """A booted QEMU micro:bit's pty (skips with the fix when QEMU or the firmware is missing)."""
    board = QemuMicrobit()
    reason = board.missing()
    if reason:
        pytest.skip(reason)
    with board.open() as port:
        yield port
