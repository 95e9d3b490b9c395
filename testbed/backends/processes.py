"""Processes a run starts: they die with it, and they are named by pid *and* start time.

Dying with the orchestrator. Every child the testbed starts (the medium, prosody, the sinks,
node apps, QEMU, flashers, chromium) is started through `dies_with_parent(argv)`: util-linux
`setpriv --pdeathsig KILL -- argv...` sets PR_SET_PDEATHSIG and execs argv in the same
process, so the kernel kills the child when its parent goes, SIGKILL included (no `finally`
runs then). The pitfalls of PR_SET_PDEATHSIG, prctl(2), and how each is met here:

- It fires when the parent *thread* exits, not the process. A child that outlives the call
  that starts it must be started by the main thread (`dies_with_parent` refuses otherwise);
  one that a worker thread starts and waits for (`lasting=False`) is fine.
- It survives execve(2) but not fork(2): only the process started gets it, not what that
  process forks. `ip netns exec NS argv` execs argv (same pid); prosody runs with `-F` (in
  the foreground, not daemonised); the medium, sinks, node apps and QEMU do not fork.
  Chromium's zygotes, renderers and crash handlers end by themselves within a second or two
  of the browser (tests/e2e/test_sigkill.py). A flasher is the lab's own program: what it
  forks is killed with its process group on every exit but a SIGKILL of ours (a limit).
- It is cleared on exec of a set-user-ID/set-group-ID binary or one with file capabilities,
  when that changes the credentials. As root (or root of the user namespace that
  `testbed.backends.userns` makes) nothing we exec changes them, so it stays. It is also
  cleared when the child itself changes its effective or filesystem uid/gid: a server that
  drops root for its own user loses it. Prosody would (to `prosody`); its config says
  `run_as_root = true` (testbed.services.prosody), which keeps it.
- The parent may die between fork and setpriv's prctl; such a child is re-parented before it
  asks. Everything in a run's namespaces is killed by the next run or `testbed clean` (the
  registry lists the namespaces), and so is every pid the run recorded.

Naming. A pid alone is not a process: once a process exits the kernel may give its pid to
another one. `ProcessRecord` keeps the start time (proc(5) `/proc/<pid>/stat` field 22, clock
ticks since boot) next to the pid and signals only if both still match, so tear-down and
`testbed clean` never kill a stranger.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from testbed.errors import NetworkError, TestbedError


@cache
def _setpriv() -> str | None:
    return shutil.which("setpriv")


def dies_with_parent(
    argv: Sequence[str], *, signum: int = signal.SIGKILL, lasting: bool = True
) -> list[str]:
    """`argv` run so that the kernel sends it `signum` when the thread starting it dies.

    `lasting`: the child outlives this call (a server, a node app), so the calling thread
    must be the main one, which lives as long as the orchestrator; False for a child the
    caller waits for. Without setpriv (util-linux, Essential in Debian) `argv` is returned
    as it is: the next run's stale-run clean-up is then the only safety net."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments, not a string (no shell)")
    if lasting and threading.current_thread() is not threading.main_thread():
        raise TestbedError(
            f"{_program(argv)} started from thread {threading.current_thread().name!r}: "
            "PR_SET_PDEATHSIG would kill it as soon as that thread ends; start long-lived "
            "children from the main thread"
        )
    setpriv = _setpriv()
    if setpriv is None:
        return list(argv)
    _check_startable(argv[0])
    name = signal.Signals(signum).name.removeprefix("SIG")
    return [setpriv, "--pdeathsig", name, "--", *argv]


def _program(argv: Sequence[str]) -> str:
    """What the child becomes, for a message: behind `ip netns exec NS` it is the app."""
    if len(argv) > 4 and list(argv[:3]) == ["ip", "netns", "exec"]:
        return f"{argv[4]!r} (in {argv[3]})"
    return repr(argv[0])


def _check_startable(program: str) -> None:
    """Raise the OSError Popen would raise for `program` (not found, not executable, no
    program): behind setpriv it would be an exit status instead, and setpriv's execvp(3)
    would even hand a file with neither ELF header nor `#!` to /bin/sh. A path relative to
    the child's working directory is left to exec."""
    path = program if "/" in program else shutil.which(program)
    if path is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    if not os.path.isabs(path):
        return
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except IsADirectoryError:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program) from None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, program) from None
    if not os.access(path, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    if not head.startswith((b"\x7fELF", b"#!")):
        raise OSError(errno.ENOEXEC, os.strerror(errno.ENOEXEC), program)


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


def kill_process_group(process: subprocess.Popen[Any], *, grace_s: float) -> int | None:
    """End the process group `process` leads (started with `start_new_session=True`): SIGTERM
    it, give it `grace_s` to go (0: straight to SIGKILL), SIGKILL what is left, reap the
    leader and return its status (None if it would not die within 10 s).

    The group is signalled even when the leader has already exited: what it forked (a
    flasher's programmer, a browser's helpers) may outlive it and still hold a port or a
    profile. A group that is gone is left alone."""
    group = process.pid
    if not _signal_group(group, signal.SIGTERM if grace_s > 0 else signal.SIGKILL):
        return _reap(process)
    deadline = time.monotonic() + grace_s
    while grace_s > 0 and time.monotonic() < deadline:
        process.poll()  # our zombie leader would count as a member until reaped
        if not _live_in_group(group):
            return _reap(process)
        time.sleep(0.02)
    if grace_s > 0:
        _signal_group(group, signal.SIGKILL)
    return _reap(process)


def _live_in_group(group: int) -> bool:
    """True while a process of process group `group` runs (zombies do not count: orphans are
    reaped by init, which may take its time)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()  # fields[0] is field 3 (state), proc(5)
        if int(fields[2]) == group and fields[0] != b"Z":  # field 5: the process group
            return True
    return False


def _signal_group(group: int, signum: int) -> bool:
    """killpg; False once no process of the group is left (or none is ours to signal)."""
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _reap(process: subprocess.Popen[Any]) -> int | None:
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # stuck in the kernel (D state): nothing more to do
        return None
