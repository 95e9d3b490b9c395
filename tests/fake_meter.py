"""A power meter on a pty for tests of the lab's meter path. A MOCK: no meter hardware is
attached where the tests run; it prints what our INA219-style meter firmware prints,
`<t_s> <current_mA> <bus_V>` lines (testbed/energy/meters.py parse_serial_lines)."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Callable


class FakeMeter:
    """Prints a sample every `period_s` on a pty: `current_ma(i)` at 3.3 V, t = i x period."""

    def __init__(self, current_ma: Callable[[int], float], period_s: float = 0.01) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.current_ma = current_ma
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            os.write(self.master, f"{i * self.period_s:.4f} {self.current_ma(i):.3f} 3.300\n"
                     .encode())
            i += 1
            time.sleep(self.period_s)

    def __enter__(self) -> FakeMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self._slave)
