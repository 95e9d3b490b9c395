"""Unprivileged mode: CAP_NET_ADMIN from a user namespace of one's own.

A user who is not root may still create network namespaces inside a user namespace where
they are mapped to root (`unshare --user --map-root-user --net --mount`, user_namespaces(7)).
The namespaces are then invisible to the rest of the machine, so this mode also gives the run
a private tmpfs on /run (for /run/netns and /run/testbed): the registry and the namespaces
live and die with the `testbed up` that made them, and `testbed exec` / `down` from another
shell cannot reach them (stop the run with Ctrl-C).

The CLI re-executes itself through `unshare` (an argv list, no shell) with `USERNS_ENV` set,
and the re-executed process calls `private_run_dir()` before touching /run.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from testbed.errors import PrivilegeError

USERNS_ENV = "TESTBED_USERNS"  # set in the re-executed process
MS_NOSUID, MS_NODEV = 2, 4


def userns_available() -> bool:
    """True if this kernel lets an unprivileged user create a user namespace."""
    for knob, ok in (
        ("/proc/sys/kernel/unprivileged_userns_clone", lambda v: v != "0"),
        ("/proc/sys/user/max_user_namespaces", lambda v: int(v) > 0),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", lambda v: v == "0"),
    ):
        try:
            value = Path(knob).read_text().strip()
        except OSError:
            continue
        if not ok(value):
            return False
    return shutil.which("unshare") is not None


def in_private_userns() -> bool:
    return os.environ.get(USERNS_ENV) == "1"


def reexec_in_userns(argv: Sequence[str]) -> None:
    """Replace this process by `testbed ARGV...` inside a fresh user+net+mount namespace."""
    unshare = shutil.which("unshare")
    if unshare is None or not userns_available():
        raise PrivilegeError(
            "the emulated backend needs CAP_NET_ADMIN, and this kernel does not allow "
            "unprivileged user namespaces: run as root (sudo), or enable them "
            "(sysctl user.max_user_namespaces / kernel.unprivileged_userns_clone)"
        )
    env = dict(os.environ, **{USERNS_ENV: "1"})
    command = [
        unshare, "--user", "--map-root-user", "--net", "--mount", "--propagation", "private",
        "--", sys.executable, "-m", "testbed.cli", *argv,
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(unshare, command, env)


def private_run_dir() -> None:
    """Mount a tmpfs on /run (ours alone, in our mount namespace) with netns/ and testbed/."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"tmpfs", b"/run", b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=755") != 0:
        err = ctypes.get_errno()
        raise PrivilegeError(f"cannot mount a private tmpfs on /run: {os.strerror(err)}")
    for name in ("netns", "testbed"):
        Path("/run", name).mkdir(mode=0o755, exist_ok=True)
