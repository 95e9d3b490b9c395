"""Unprivileged mode: `testbed up` as a plain user re-executes inside a user+net namespace."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from testbed.backends import userns
from testbed.errors import PrivilegeError

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
PAIR = "name: pair\nnodes:\n  br: {role: border-router}\n  n1: {}\nlinks:\n  - [br, n1]\n"


def test_no_user_namespaces_says_what_to_do(monkeypatch):
    monkeypatch.setattr(userns, "userns_available", lambda: False)
    with pytest.raises(PrivilegeError, match=r"CAP_NET_ADMIN.*run as root.*max_user_namespaces"):
        userns.reexec_in_userns(["up", "x.yaml"])


def _why_not() -> str | None:
    """Why `testbed up` cannot run as user nobody here, or None if it can."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root to switch to user nobody (setpriv)"
    if not userns.userns_available():
        return "unprivileged user namespaces are disabled (user.max_user_namespaces)"
    if os.stat("/dev/net/tun").st_mode & 0o006 != 0o006:
        return "/dev/net/tun is not world read-writable (TAPs need it; udev usually makes it 0666)"
    probe = subprocess.run(
        [*NOBODY, "unshare", "--user", "--map-root-user", "--", sys.executable, "-c",
         "import testbed.cli"],
        capture_output=True, text=True,
    )
    if probe.returncode != 0:
        return f"user nobody cannot run {sys.executable} with testbed: {probe.stderr.strip()}"
    return None


@pytest.fixture
def nobody_dir():
    """A directory user nobody can write (pytest's tmp_path sits under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="testbed-nobody-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


@pytest.mark.slow
def test_up_as_nobody_in_a_user_namespace(nobody_dir):
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    tmp_path = nobody_dir
    (tmp_path / "pair.yaml").write_text(PAIR)
    (tmp_path / "pair.yaml").chmod(0o644)
    up = subprocess.Popen(
        [*NOBODY, sys.executable, "-m", "testbed.cli", "up", "pair.yaml", "--out", str(tmp_path)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while "up; stop with Ctrl-C" not in seen and time.monotonic() < deadline:
            line = up.stdout.readline()
            if not line:
                break
            seen += line
        assert "up; stop with Ctrl-C\n" in seen, (up.wait(30), up.stderr.read())
        assert "fd00::ff:fe00:2" in seen
        # The namespaces are the user namespace's own: the host's /run/netns never sees them.
        host = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert "-n1" not in host
    finally:
        up.send_signal(signal.SIGINT)
        rest, errors = up.communicate(timeout=30)
    assert up.returncode == 0, errors
    assert rest.strip().endswith(": down")


def _in_userns(inode: int) -> list[int]:
    """Pids of the processes whose user namespace has this inode."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(f"{entry.path}/ns/user").st_ino == inode:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_a_sigkilled_up_in_a_user_namespace_leaves_no_process_and_so_no_namespace(tmp_path):
    """The same re-executed `testbed up` (root runs it here: no tun device is needed for
    nobody). Its children die with it; with no process left the mount namespace goes, with
    it the bind mounts in its private /run/netns, and with them the node namespaces."""
    if os.geteuid() != 0 or not userns.userns_available():
        pytest.skip("needs root and user namespaces")
    (tmp_path / "pair.yaml").write_text(PAIR)
    unshare = ["unshare", "--user", "--map-root-user", "--net", "--mount",
               "--propagation", "private", "--"]
    up = subprocess.Popen(
        [*unshare, sys.executable, "-m", "testbed.cli", "up", "pair.yaml", "--out", str(tmp_path)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, userns.USERNS_ENV: "1"},
    )
    inode, members = None, []
    try:
        seen = ""
        while "up; stop with Ctrl-C" not in seen:
            line = up.stdout.readline()
            assert line, (up.wait(30), up.stderr.read())
            seen += line
        inode = os.stat(f"/proc/{up.pid}/ns/user").st_ino
        assert inode != os.stat("/proc/self/ns/user").st_ino
        members = _in_userns(inode)
        commands = [Path(f"/proc/{p}/cmdline").read_bytes() for p in members]
        assert any(b"testbed.radio.medium" in c for c in commands), commands
        up.kill()  # SIGKILL: no tear-down runs
        up.wait(30)
        deadline = time.monotonic() + 10
        while _in_userns(inode) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_userns(inode) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        for pid in _in_userns(inode) if inode else []:
            os.kill(pid, signal.SIGKILL)
