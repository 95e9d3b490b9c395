"""Processes named by pid and start time: a recycled pid is never signalled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.backends.processes import (
    ProcessRecord, dies_with_parent, kill_process_group, pid_start_time, start_time_from_stat,
)
from testbed.errors import NetworkError, TestbedError


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


# --- children die with the orchestrator (PR_SET_PDEATHSIG through setpriv) ---------------------


@contextlib.contextmanager
def owner(script: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A Python process standing for the orchestrator: it runs `script`, which prints the pid
    of the child it started and then waits. Yields (owner, child pid); whatever the test does,
    neither outlives it."""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               text=True)
    child = None
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), f"the owner said {line!r}"
        child = int(line)
        yield process, child
    finally:
        process.kill()
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]
        if child:  # 0: the owner knows no pid (and kill(0) would hit our own group)
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def starts(argv: list[str], *, wrapped: bool = True, **popen: object) -> str:
    """An owner script that starts `argv` (through dies_with_parent or not) and waits."""
    call = f"dies_with_parent({argv!r})" if wrapped else repr(argv)
    return ("import subprocess, sys, time\n"
            "from testbed.backends.processes import dies_with_parent\n"
            f"child = subprocess.Popen({call}, **{popen!r})\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(60)\n")


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def execs(pid: int, argv: list[str]) -> list[str]:
    """`pid`'s command line once it is `argv` (setpriv, then `ip netns exec`, exec it in
    turn in the same pid), or what it still is after 5 s."""
    for _ in range(500):
        if cmdline(pid) == argv:
            break
        time.sleep(0.01)
    return cmdline(pid)


def test_a_child_dies_with_an_owner_killed_by_sigkill() -> None:
    with owner(starts(["sleep", "60"])) as (orchestrator, child):
        assert execs(child, ["sleep", "60"]) == ["sleep", "60"]  # setpriv exec'd: same pid
        orchestrator.kill()  # SIGKILL: no `finally`, no tear-down runs
        orchestrator.wait()
        assert gone(child)


def test_without_it_the_child_outlives_its_owner() -> None:
    """The control: the test above could fail."""
    with owner(starts(["sleep", "60"], wrapped=False)) as (orchestrator, child):
        orchestrator.kill()
        orchestrator.wait()
        time.sleep(0.5)  # what the kernel would have done by now, it has done
        assert ProcessRecord.of(child).alive()


def test_the_signal_may_be_sigterm_for_a_child_that_flushes_first(tmp_path: Path) -> None:
    argv = dies_with_parent(["sleep", "60"], signum=signal.SIGTERM)
    assert argv[1:4] == ["--pdeathsig", "TERM", "--"] and argv[-2:] == ["sleep", "60"]
    # what the medium does with it: the SIGTERM handler still runs (flush, then exit)
    flushed = tmp_path / "flushed"
    child = ("import signal, sys, time\n"
             "def bye(signum, frame):\n"
             f"    open({str(flushed)!r}, 'w').write(signal.Signals(signum).name)\n"
             "    sys.exit(0)\n"
             "signal.signal(signal.SIGTERM, bye)\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")
    script = ("import signal, subprocess, sys, time\n"
              "from testbed.backends.processes import dies_with_parent\n"
              f"argv = dies_with_parent([sys.executable, '-c', {child!r}], signum=signal.SIGTERM)\n"
              "child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)\n"
              "child.stdout.readline()  # its handler is in place\n"
              "print(child.pid, flush=True)\n"
              "time.sleep(60)\n")
    with owner(script) as (orchestrator, child_pid):
        orchestrator.kill()
        orchestrator.wait()
        assert gone(child_pid)
    assert flushed.read_text() == "SIGTERM"


def test_a_child_started_by_a_thread_that_ends_dies_with_that_thread() -> None:
    """The pitfall: PR_SET_PDEATHSIG follows the parent *thread*. The process lives on."""
    started: list[subprocess.Popen[bytes]] = []

    def worker() -> None:
        started.append(subprocess.Popen(dies_with_parent(["sleep", "60"], lasting=False)))
        execs(started[0].pid, ["sleep", "60"])  # setpriv has asked for the signal by then

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    (child,) = started
    try:
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()


def test_a_lasting_child_from_a_worker_thread_is_refused() -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            dies_with_parent(["prosody", "-F"])
        except TestbedError as exc:
            errors.append(exc)
        try:  # what EmulatedNetwork.popen and Prosody hand it: named by the app, not `ip`
            dies_with_parent(["ip", "netns", "exec", "tb-abc123-n1", "python3", "main.py"])
        except TestbedError as exc:
            errors.append(exc)
        dies_with_parent(["ip", "-batch", "-"], lasting=False)  # one the thread waits for

    thread = threading.Thread(target=worker, name="bring-up-1")
    thread.start()
    thread.join()
    (error, in_netns) = errors
    assert str(error) == ("'prosody' started from thread 'bring-up-1': PR_SET_PDEATHSIG would "
                          "kill it as soon as that thread ends; start long-lived children "
                          "from the main thread")
    assert str(in_netns).startswith("'python3' (in tb-abc123-n1) started from thread "
                                    "'bring-up-1': ")


def test_a_string_is_no_argv() -> None:
    with pytest.raises(TypeError, match="not a string"):
        dies_with_parent("sleep 60")  # type: ignore[arg-type]


def _unstartable(kind: str, tmp_path: Path) -> str:
    if kind == "missing":
        return "tb-no-such-program"
    path = tmp_path / kind
    if kind == "no-program":
        path.write_bytes(b"\x00\x01 neither ELF nor #!")
        path.chmod(0o755)
    elif kind == "not-executable":
        path.write_text("#!/bin/sh\n")
        path.chmod(0o644)
    else:
        path.mkdir()
    return str(path)


@pytest.mark.parametrize("kind", ["missing", "no-program", "not-executable", "directory"])
def test_a_program_that_cannot_start_raises_what_popen_raises(kind: str, tmp_path: Path) -> None:
    """Behind setpriv a failed exec would be an exit status, and execvp(3) would even run a
    file that is no program with /bin/sh: callers keep Popen's OSError instead."""
    program = _unstartable(kind, tmp_path)
    if kind == "not-executable" and os.geteuid() == 0:
        os.chmod(program, 0o644)  # root may execute only what has an x bit: same error
    with pytest.raises(OSError) as plain:
        subprocess.Popen([program])
    with pytest.raises(OSError) as ours:
        subprocess.Popen(dies_with_parent([program]))
    assert (type(ours.value), ours.value.errno) == (type(plain.value), plain.value.errno)
    assert ours.value.filename == program


@pytest.mark.needs_root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for `ip netns add`")
def test_ip_netns_exec_execs_so_the_app_itself_dies_with_its_owner() -> None:
    """`ip netns exec` does not fork: the node app is the process that holds the signal."""
    name = f"tb-pdeath-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        with owner(starts(["ip", "netns", "exec", name, "sleep", "60"])) as (orchestrator, app):
            assert execs(app, ["sleep", "60"]) == ["sleep", "60"]  # setpriv, ip, sleep: 1 pid
            assert os.stat(f"/proc/{app}/ns/net").st_ino == os.stat(f"/run/netns/{name}").st_ino
            orchestrator.kill()
            orchestrator.wait()
            assert gone(app)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_a_flasher_dies_with_an_owner_killed_mid_flash(tmp_path: Path) -> None:
    pidfile = tmp_path / "flasher.pid"
    log = tmp_path / "z.log"
    script = ("from pathlib import Path\n"
              "from testbed.backends.flash import CommandFlasher\n"
              "from testbed.config.lab import Board\n"
              "board = Board(name='zoul1', platform='contiki', port='/dev/null')\n"
              f"argv = ('sh', '-c', 'echo $$ > {pidfile}; exec sleep 60')\n"
              f"flasher = CommandFlasher(board=board, argv=argv, log=Path({str(log)!r}))\n"
              "print(0, flush=True)  # the flasher's pid comes through its pid file\n"
              "flasher.flash(None, port='/dev/null')\n")
    with owner(script) as (orchestrator, _):
        for _ in range(500):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.01)
        flasher = int(pidfile.read_text())
        try:
            assert execs(flasher, ["sleep", "60"]) == ["sleep", "60"]
            orchestrator.kill()
            orchestrator.wait()
            assert gone(flasher)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(flasher, signal.SIGKILL)


#: what starts a child that outlives the call: Popen however imported, asyncio's two, and the
#: os calls below subprocess (`testbed exec`'s os.execvp replaces us: no child, not listed)
STARTERS = ("Popen", "create_subprocess_exec", "create_subprocess_shell", "fork", "forkpty",
            "posix_spawn", "posix_spawnp", "spawnv", "spawnve", "spawnvp", "spawnvpe")


def bare_starts(source: str, name: str = "<test>") -> list[str]:
    """Calls in `source` that start a child whose argv is not made by dies_with_parent (or
    EmulatedNetwork._in_netns, which wraps what it returns)."""
    import ast

    bare = []
    for node in ast.walk(ast.parse(source, name)):
        if not (isinstance(node, ast.Call)
                and ast.unparse(node.func).rsplit(".", 1)[-1] in STARTERS):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Starred):  # create_subprocess_exec(*argv)
            first = first.value
        called = ast.unparse(first.func) if isinstance(first, ast.Call) else ""
        if called not in ("dies_with_parent", "self._in_netns"):
            bare.append(f"{name}:{node.lineno}: {ast.unparse(node)[:60]}")
    return bare


def test_every_popen_of_the_package_goes_through_dies_with_parent() -> None:
    """The one mechanism, everywhere: a new kind of child (a Contiki native process, a live
    tshark) must not be started bare. `subprocess.run` (waited for, short) is not checked."""
    import testbed

    bare = []
    for path in sorted(Path(testbed.__file__).parent.rglob("*.py")):
        bare += bare_starts(path.read_text(), path.name)
    assert bare == []


def test_the_check_above_sees_a_bare_start_however_it_is_spelt() -> None:
    """The control: each of these would start a child without the signal."""
    sources = ["subprocess.Popen(argv)", "Popen(['tshark', '-i', 'x'])",
               "await asyncio.create_subprocess_exec(*argv)", "create_subprocess_shell(cmd)",
               "os.posix_spawnp(path, argv, env)", "pid = os.fork()"]
    for source in sources:
        assert len(bare_starts(source)) == 1, source
    assert bare_starts("subprocess.Popen(dies_with_parent(argv), stdout=log)") == []
    assert bare_starts("await asyncio.create_subprocess_exec(*dies_with_parent(argv))") == []
    assert bare_starts("subprocess.run(argv, check=True)") == []  # waited for: not a starter
