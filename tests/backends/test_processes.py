"""Processes named by pid and start time: a recycled pid is never signalled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.backends.processes import (
    ProcessRecord, kill_process_group, pid_start_time, start_time_from_stat,
)
from testbed.errors import NetworkError


def test_pid_start_time_matches_proc_and_survives_odd_command_names(tmp_path):
    # A command name with spaces and ')' must not shift the stat fields.
    odd = tmp_path / "a) b (c"
    odd.symlink_to(sys.executable)
    child = subprocess.Popen([str(odd), "-c", "import time; time.sleep(30)"])
    try:
        start = pid_start_time(child.pid)
        assert start is not None and start >= pid_start_time(os.getpid())
        ticks = os.sysconf("SC_CLK_TCK")
        uptime = float(open("/proc/uptime").read().split()[0])
        assert abs(start / ticks - uptime) < 30  # started moments ago
    finally:
        child.kill()
        child.wait()
    assert pid_start_time(child.pid) is None


def test_a_recycled_pid_is_never_signalled():
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        real = ProcessRecord.of(victim.pid, "victim")
        # Same pid, another start time: what the registry holds after the pid was reused.
        stranger = ProcessRecord(pid=victim.pid, start_time=real.start_time + 1, name="old")
        assert not stranger.alive()
        assert stranger.signal(signal.SIGKILL) is False
        assert victim.poll() is None  # untouched
        assert real.signal(signal.SIGTERM) is True
        assert victim.wait(5) == -signal.SIGTERM
        assert not real.alive()
    finally:
        victim.kill()
        victim.wait()


def test_record_of_an_exited_process_is_refused():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with pytest.raises(NetworkError, match=rf"process {gone.pid} \(x\) exited"):
        ProcessRecord.of(gone.pid, "x")


# proc(5): the kernel truncates comm to 15 bytes; any byte but NUL may appear in it.
comms = st.binary(min_size=0, max_size=15).filter(lambda b: b"\0" not in b)


@given(comm=comms, start=st.integers(0, 2**63), pid=st.integers(1, 2**22))
def test_start_time_field_whatever_the_command_name(comm, start, pid):
    fields = [b"S", b"1", b"1", b"1", b"0", b"-1", b"4194560"] + [b"0"] * 12 + [str(start).encode()]
    line = b"%d (%s) " % (pid, comm) + b" ".join(fields + [b"0"] * 30) + b"\n"
    assert start_time_from_stat(line) == start


def test_start_time_of_this_process_from_the_real_file():
    assert start_time_from_stat(open("/proc/self/stat", "rb").read()) == pid_start_time(os.getpid())


# --- kill_process_group: a child started in its own session, and what it forked ------------


@contextlib.contextmanager
def group_leader(script: str, *, setup: str = ":") -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A shell leading its own process group that runs `setup`, starts a background `sleep`
    (its pid on the first line of output: once read, the setup is done) and runs `script`.
    Whatever the test does, nothing of the group outlives it."""
    process = subprocess.Popen(["sh", "-c", f"{setup}; sleep 60 & echo $!; {script}"],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        yield process, int(process.stdout.readline())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]


def gone(pid: int) -> bool:
    """Dead, or a zombie its reaper has not come for yet (a signal takes a moment: poll)."""
    for _ in range(500):
        try:
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == b"Z":
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("grace_s", [0.0, 1.0])
def test_the_whole_group_is_ended_and_the_leader_reaped(grace_s: float) -> None:
    with group_leader("sleep 60") as (leader, child):
        status = kill_process_group(leader, grace_s=grace_s)
        assert status == (-signal.SIGKILL if grace_s == 0 else -signal.SIGTERM)
        assert leader.returncode == status  # reaped: no zombie left behind
        assert gone(child)


def test_what_the_leader_left_behind_is_ended_after_it_exited() -> None:
    with group_leader("exit 0") as (leader, child):  # the shell exits, its sleep stays
        assert leader.wait(10) == 0 and ProcessRecord.of(child).alive()
        assert kill_process_group(leader, grace_s=1.0) == 0
        assert gone(child)


def test_a_leader_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    with group_leader("wait", setup="trap '' TERM") as (leader, child):  # sleep ignores it too
        assert kill_process_group(leader, grace_s=0.3) == -signal.SIGKILL
        assert gone(child)


def test_a_group_already_gone_is_left_alone() -> None:
    done = subprocess.Popen(["true"], start_new_session=True)
    done.wait()
    assert kill_process_group(done, grace_s=1.0) == 0
