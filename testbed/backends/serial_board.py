"""A real MicroPython board on a serial port (a micro:bit's /dev/ttyACM0).

What it is: the same board interface as testbed/backends/qemu.py (`missing()`, `open()`
yielding the port), for hardware. What it is not: a flasher; the board must already run
MicroPython.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from testbed.backends.qemu import BoardError


@dataclass(frozen=True, kw_only=True)
class SerialBoard:
    port: str = "/dev/ttyACM0"
    platform: str = "micropython-board"

    def missing(self) -> str | None:
        if not os.path.exists(self.port):
            return f"no board on {self.port} (plug in a micro:bit running MicroPython)"
        return None

    @contextmanager
    def open(self) -> Iterator[str]:
        reason = self.missing()
        if reason:
            raise BoardError(reason)
        yield self.port
