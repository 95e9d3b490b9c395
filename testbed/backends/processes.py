"""Processes a run started, named by pid *and* start time.

A pid alone is not a process: once a process exits the kernel may give its pid to another
one. `ProcessRecord` keeps the start time (proc(5) `/proc/<pid>/stat` field 22, clock ticks
since boot) next to the pid and signals only if both still match, so tear-down and
`testbed clean` never kill a stranger.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.errors import NetworkError


def pid_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (proc(5) stat field 22), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return start_time_from_stat(stat)


def start_time_from_stat(stat: bytes) -> int:
    """Field 22 (starttime) of a /proc/<pid>/stat line, proc(5).

    The command name (field 2, in parentheses) may itself hold spaces and parentheses, so
    fields are counted from the *last* ')'.
    """
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[19])  # fields[0] is field 3 (state), so field 22 is fields[19]


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """A process a run started: pid plus start time, so a recycled pid is never taken for it."""

    pid: int
    start_time: int
    name: str = ""

    @classmethod
    def of(cls, pid: int, name: str = "") -> ProcessRecord:
        start = pid_start_time(pid)
        if start is None:
            raise NetworkError(f"process {pid} ({name or '?'}) exited before it was registered")
        return cls(pid=pid, start_time=start, name=name)

    def alive(self) -> bool:
        """True if this very process (same pid *and* start time) still exists and is not a zombie."""
        if pid_start_time(self.pid) != self.start_time:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state != b"Z"

    def signal(self, signum: int) -> bool:
        """Send `signum` if this is still our process; False if it is gone (or recycled)."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "start_time": self.start_time, "name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ProcessRecord:
        return cls(pid=int(data["pid"]), start_time=int(data["start_time"]), name=str(data.get("name", "")))


def stop_process(process: subprocess.Popen[Any] | None, timeout_s: float) -> None:
    """SIGTERM a child we started, SIGKILL it after `timeout_s`, and reap it either way.

    A process already gone (or never started) is left as it is."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
