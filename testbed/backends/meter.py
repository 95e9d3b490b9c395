"""A board's power meter, read while a variant runs on the lab's boards.

Why here: reading a meter is I/O against a lab's hardware (a serial port, a PPK2 over USB),
started with the board's app and stopped at the variant's tear-down like its console. This
module only records: every sample goes to `<variant>/meters/<node>.txt` as it arrives, in the
serial-lines format `<t_s> <current_mA> <bus_V>` (an interrupted run keeps what was measured);
testbed/energy/measured.py integrates the file into the variant's energy section.

serial-lines: a meter whose firmware prints those lines (INA219/INA226 style), read with
    pyserial (`serial_for_url`: a local port, or rfc2217:// for a meter on a lab host); the
    lines are written as they came, `#` comments around them.
ppk2: Nordic's Power Profiler Kit II through ppk2-api, as a source meter powering the board at
    the lab file's voltage. It sends 100,000 samples a second: a line per read holds their
    mean current, timed by the samples' count (10 µs each) from the first.
A meter that fails (cannot be opened, goes away) does not fail the variant: the file ends
with a `# error: ...` line and keeps what came before.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TextIO

import serial

from testbed.config.lab import Board, Meter

READ_TIMEOUT_S = 0.1
BAUDRATE = 115200
PPK2_PERIOD_S = 1e-5  # 100 ksps


class MeterRecorder:
    """`MeterRecorder(board, path).start()` ... `.stop()`: the meter's samples in `path`."""

    def __init__(self, board: Board, path: Path) -> None:
        assert board.meter is not None
        self.board = board
        self.meter: Meter = board.meter
        self.path = path
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._record, name=f"meter-{board.name}",
                                        daemon=True)

    def start(self) -> MeterRecorder:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10 * READ_TIMEOUT_S + 5)

    def _record(self) -> None:
        with self.path.open("w", encoding="utf-8") as out:
            out.write(f"# board {self.board.name}, meter {self.meter.kind} on "
                      f"{self.meter.port}, from {time.time():.6f} (Unix time)\n")
            out.flush()
            try:
                if self.meter.kind == "ppk2":
                    self._record_ppk2(out)
                else:
                    self._record_lines(out)
            except Exception as exc:  # noqa: BLE001 - a failed meter is a figure, not a crash
                self.error = f"board {self.board.name}: meter {self.meter.port}: {exc}"
                out.write(f"# error: {self.error}\n")
            out.write(f"# until {time.time():.6f}\n")

    def _record_lines(self, out: TextIO) -> None:
        try:
            port = serial.serial_for_url(self.meter.port, baudrate=BAUDRATE,
                                         timeout=READ_TIMEOUT_S)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise OSError(f"cannot open it: {exc}") from None
        pending = b""
        first = True  # the first line may be the tail of one sent before the port was open
        with port:
            while not self._stop.is_set():
                try:
                    data = port.read(max(1, port.in_waiting))
                except (serial.SerialException, OSError) as exc:
                    raise OSError(f"reading it failed: {exc}") from None
                if not data:
                    continue
                pending += data
                *lines, pending = pending.split(b"\n")
                if first and lines:
                    lines, first = lines[1:], False
                for line in lines:
                    out.write(line.decode("utf-8", errors="replace").rstrip("\r") + "\n")
                out.flush()

    def _record_ppk2(self, out: TextIO) -> None:  # pragma: no cover - hardware
        from ppk2_api.ppk2_api import PPK2_API  # only a lab with a PPK2 needs it

        ppk2 = PPK2_API(self.meter.port)
        ppk2.get_modifiers()
        ppk2.use_source_meter()
        ppk2.set_source_voltage(round(self.meter.voltage_v * 1000))
        ppk2.toggle_DUT_power("ON")
        ppk2.start_measuring()
        t_s = 0.0
        try:
            while not self._stop.is_set():
                data = ppk2.get_data()
                if not data:
                    time.sleep(READ_TIMEOUT_S)
                    continue
                samples_ua, _digital = ppk2.get_samples(data)
                # one NaN (ppk2-api gives one for a word it cannot decode) must not void a read
                good = [ua for ua in samples_ua if finite_sample(ua)]
                if good:
                    mean_ma = math.fsum(good) / len(good) / 1000
                    out.write(f"{t_s:.6f} {mean_ma:.6f} {self.meter.voltage_v:.3f}\n")
                    out.flush()
                t_s += len(samples_ua) * PPK2_PERIOD_S
        finally:
            ppk2.stop_measuring()


def finite_sample(value: object) -> bool:
    """A sample to keep: a number a float holds (not NaN, not 10**400)."""
    try:
        return isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:
        return False
