"""The MicroPython raw REPL over a serial port (what mpremote/pyboard.py speak).

What it is: enter the raw REPL, execute code, read its output and its error output, leave;
plus the two file operations a deployment needs. What it is not: a paste-mode or
raw-paste-mode client (the micro:bit's 1.9-era firmware has no raw-paste), not mpremote's
filesystem protocol.

The protocol (MicroPython docs "The MicroPython Interactive Interpreter Mode", section "Raw
mode and raw-paste mode"; mpremote transport_serial.py):
    Ctrl-C (0x03), twice: interrupt whatever runs;  Ctrl-A (0x01): enter raw REPL, the board
    answers "raw REPL; CTRL-B to exit\\r\\n>";  then code, Ctrl-D (0x04): the board answers "OK",
    the output, 0x04, the error output (a traceback), 0x04, ">";  Ctrl-D on an empty line:
    soft reset ("soft reboot\\r\\n" and the raw REPL banner again);  Ctrl-B (0x02): back to
    the friendly REPL.
"""

from __future__ import annotations

import time
from types import TracebackType

import serial

from testbed.errors import ReplError, TestbedError

CTRL_A = b"\x01"
CTRL_B = b"\x02"
CTRL_C = b"\x03"
CTRL_D = b"\x04"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"soft reboot\r\n"
CHUNK = 32  # bytes written at a time: the raw REPL has no flow control on MicroPython 1.9,
#            and with 64-byte bursts QEMU's micro:bit lost a byte now and then (CI saw
#            "gc.collect()" arrive as "c.collect()"); 32 bytes passed 8 runs out of 8 here
CHUNK_PAUSE_S = 0.01
TAIL = 120  # bytes of what came last that an error message shows


# read a file back in 64-character pieces: (length, checksum) as text_checksum computes it
_CHECKSUM = (
    "f=open(%r)\nn=0\ns=0\nwhile 1:\n b=f.read(64)\n if not b:\n  break\n n+=len(b)\n"
    " for c in b:\n  s=(s*31+ord(c))&0xffffff\nf.close()\nprint(n,s)"
)


def text_checksum(text: str) -> int:
    """The checksum _CHECKSUM computes on the board (a 24-bit polynomial hash)."""
    value = 0
    for c in text:
        value = (value * 31 + ord(c)) & 0xFFFFFF
    return value


class ReplExecError(TestbedError):
    """Code ran on the board and raised: `traceback` is the board's error output."""

    def __init__(self, port: str, traceback: str) -> None:
        self.port = port
        self.traceback = traceback
        last = traceback.strip().splitlines()[-1] if traceback.strip() else "(no traceback)"
        super().__init__(f"{port}: {last}")

    @property
    def exception(self) -> str:
        """The traceback's last line, e.g. "MemoryError: memory allocation failed ..."."""
        lines = self.traceback.strip().splitlines()
        return lines[-1].strip() if lines else ""


class RawRepl:
    """A raw REPL session on `port` (a device path or a pyserial URL). Opens in __enter__."""

    def __init__(self, port: str, *, baudrate: int = 115200, timeout_s: float = 10.0) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self._serial: serial.SerialBase | None = None
        self._seen = b""  # everything read, for error messages

    # --- session --------------------------------------------------------------------------

    def __enter__(self) -> RawRepl:
        try:
            self._serial = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as exc:  # ValueError: bad URL
            raise ReplError(f"{self.port}: cannot open: {exc}") from exc
        try:
            self.enter()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._serial is not None and exc_type is None:
                self._write(CTRL_B)  # leave the raw REPL: the board is as we found it
        finally:
            self.close()

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def enter(self) -> None:
        """Interrupt what runs, enter the raw REPL, wait for its banner and prompt."""
        self._write(b"\r" + CTRL_C + CTRL_C)
        time.sleep(0.1)
        self._drain()
        self._write(b"\r" + CTRL_A)
        self.read_until(RAW_BANNER + b">", what="the raw REPL banner")

    def soft_reset(self) -> None:
        """Ctrl-D on an empty raw-REPL line: a fresh interpreter (heap emptied, files kept)."""
        self._write(CTRL_D)
        self.read_until(SOFT_REBOOT, what="'soft reboot'")
        self.read_until(RAW_BANNER + b">", what="the raw REPL banner after the soft reboot")

    # --- execution ------------------------------------------------------------------------

    def exec_raw(self, code: str | bytes, *, timeout_s: float | None = None) -> tuple[bytes, bytes]:
        """Send `code` and Ctrl-D; return (output, error output) as the board wrote them."""
        data = code.encode() if isinstance(code, str) else code
        if CTRL_D in data:
            raise ValueError("code must not contain Ctrl-D (0x04): it ends the code")
        for start in range(0, len(data), CHUNK):
            self._write(data[start:start + CHUNK])
            time.sleep(CHUNK_PAUSE_S)
        self._write(CTRL_D)
        self.read_until(b"OK", what="'OK' (code accepted)")
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            output = self.read_until(CTRL_D, what="the end of the output (0x04)",
                                     timeout_s=timeout)
        except ReplError:
            # the program still runs: stop it so the session stays usable (a soft reset after
            # this would otherwise time out too and hide this first error)
            try:
                self.interrupt()
            except ReplError:
                pass
            raise
        error = self.read_until(CTRL_D, what="the end of the error output (0x04)")
        self.read_until(b">", what="the raw REPL prompt")
        return output[:-1], error[:-1]

    def exec(self, code: str | bytes, *, timeout_s: float | None = None) -> str:
        """Run `code`; its output as text. Raises ReplExecError with the board's traceback."""
        output, error = self.exec_raw(code, timeout_s=timeout_s)
        if error:
            raise ReplExecError(self.port, error.decode(errors="replace"))
        return output.decode(errors="replace")

    def interrupt(self) -> None:
        """Ctrl-C a running program and get back to the raw REPL prompt."""
        self._write(CTRL_C + CTRL_C)
        time.sleep(0.2)
        self._drain()
        self.enter()

    # --- files (the board's own filesystem, e.g. the micro:bit's flash) --------------------

    def write_file(self, name: str, text: str, *, chunk: int = 192, attempts: int = 3) -> None:
        """Write `text` to file `name` on the board, a chunk per exec (the board holds little),
        then read it back as a checksum: a byte lost on the way (seen on QEMU's micro:bit with
        files of a few kB) means writing it again, `attempts` times at most."""
        for _ in range(attempts):
            self.exec(f"f=open({name!r},'w')")
            try:
                for start in range(0, len(text), chunk):
                    self.exec(f"f.write({text[start:start + chunk]!r})")
            except Exception:
                self.exec("f.close()")  # a board error: close the file, report the error
                raise
            # (not on Ctrl-C/SIGTERM: a chunk may be half sent, and anything sent now would
            # turn the interrupt into a board SyntaxError)
            self.exec("f.close()")
            got = self.exec(_CHECKSUM % name).split()
            if got == [str(len(text)), str(text_checksum(text))]:
                return
        raise ReplError(f"{self.port}: {name}: {len(text)} characters written {attempts} times, "
                        f"read back as (length, checksum) {got} each time, expected "
                        f"{[len(text), text_checksum(text)]}")

    def remove_file(self, name: str) -> None:
        self.exec(f"import os\ntry:\n os.remove({name!r})\nexcept OSError:\n pass")

    # --- bytes ----------------------------------------------------------------------------

    def read_until(self, ending: bytes, *, what: str, timeout_s: float | None = None) -> bytes:
        """Bytes up to and including `ending`; ReplError naming the port and the last bytes."""
        assert self._serial is not None, "RawRepl used outside `with`"
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        got = bytearray()
        while not got.endswith(ending):
            if time.monotonic() > deadline:
                raise ReplError(
                    f"{self.port}: timed out after {timeout} s waiting for {what}; last bytes: "
                    f"{bytes(self._seen[-TAIL:])!r}"
                )
            try:
                byte = self._serial.read(1)
            except (serial.SerialException, OSError) as exc:
                raise ReplError(f"{self.port}: read failed waiting for {what}: {exc}; last "
                                f"bytes: {bytes(self._seen[-TAIL:])!r}") from exc
            if byte:
                got += byte
                self._seen = (self._seen + byte)[-4 * TAIL:]
        return bytes(got)

    def _write(self, data: bytes) -> None:
        assert self._serial is not None, "RawRepl used outside `with`"
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise ReplError(f"{self.port}: write failed: {exc}") from exc

    def _drain(self) -> None:
        assert self._serial is not None
        while True:
            data = self._serial.read(256)
            if not data:
                return
            self._seen = (self._seen + data)[-4 * TAIL:]
