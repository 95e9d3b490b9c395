"""Processes named by pid and start time: a recycled pid is never signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.backends.processes import ProcessRecord, pid_start_time, start_time_from_stat
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
