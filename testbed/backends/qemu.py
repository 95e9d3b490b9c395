"""A micro:bit running the real MicroPython firmware inside QEMU, reached over a pty.

What it is: a board backend. `QemuMicrobit().open()` starts
`qemu-system-arm -M microbit -device loader,file=<firmware.hex> -nographic -serial pty
-monitor none`, reads QEMU's "char device redirected to /dev/pts/N" line, yields that pty
path (115200 baud, the MicroPython REPL) and always kills QEMU when the block ends, also on
exceptions. What it is not: a REPL client (testbed/backends/raw_repl.py talks to the port).

Debian packages: qemu-system-arm (QEMU's `microbit` machine, an nRF51822) and
firmware-microbit-micropython (MicroPython 1.9.2 for the micro:bit v1).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testbed.backends.processes import dies_with_parent, kill_process_group
from testbed.errors import BoardError

FIRMWARE = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
QEMU = "qemu-system-arm"
INSTALL_HINT = "apt-get install qemu-system-arm firmware-microbit-micropython"
PLATFORM = "micropython-microbit-qemu"
_PTY_LINE = re.compile(rb"char device redirected to (/dev/pts/\d+)")


@dataclass(frozen=True, kw_only=True)
class QemuMicrobit:
    """QEMU's micro:bit with MicroPython. The constructor does no I/O; `open()` boots it."""

    firmware: Path = FIRMWARE
    qemu: str = QEMU
    boot_timeout_s: float = 10.0
    platform: str = PLATFORM
    #: told QEMU's pid as soon as it runs: a run records it, so `testbed clean` can kill a
    #: QEMU that a SIGKILLed run left behind (exits and exceptions kill it here anyway)
    on_start: Callable[[int], object] | None = None

    def missing(self) -> str | None:
        """Why this board cannot start here (with the fix), or None when it can."""
        if shutil.which(self.qemu) is None or not Path(self.firmware).is_file():
            return f"QEMU micro:bit not installed: {INSTALL_HINT}"
        return None

    def argv(self) -> list[str]:
        return [self.qemu, "-M", "microbit", "-device", f"loader,file={self.firmware}",
                "-nographic", "-serial", "pty", "-monitor", "none"]

    @contextmanager
    def open(self) -> Iterator[str]:
        """Boot the board; yield its serial port (a pty path); kill QEMU on the way out."""
        reason = self.missing()
        if reason:
            raise BoardError(reason)
        with tempfile.TemporaryDirectory(prefix="tb-qemu-") as tmp:
            log_path = Path(tmp) / "qemu.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    dies_with_parent(self.argv()), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: killed as one
                )
            try:
                if self.on_start is not None:
                    self.on_start(process.pid)
                yield self._wait_for_pty(process, log_path)
            finally:
                kill_process_group(process, grace_s=0)  # ours alone: start_new_session

    def _wait_for_pty(self, process: subprocess.Popen[bytes], log_path: Path) -> str:
        deadline = time.monotonic() + self.boot_timeout_s
        while time.monotonic() < deadline:
            text = log_path.read_bytes()
            match = _PTY_LINE.search(text)
            if match:
                return match.group(1).decode()
            if process.poll() is not None:
                raise BoardError(f"{self.qemu} exited with status {process.returncode} before "
                                 f"naming its pty; output: {text[-300:]!r}")
            time.sleep(0.02)
        raise BoardError(f"{self.qemu}: no 'char device redirected to /dev/pts/N' within "
                         f"{self.boot_timeout_s} s; output: {log_path.read_bytes()[-300:]!r}")

