"""The Linux calls the testbed needs that Python 3.11's os module lacks: setns(2), prctl(2).

What it is: thin ctypes wrappers, in one place, for the backend (which configures
namespaces) and the radio medium (which opens TAPs inside them). What it is not: anything
about networks or nodes; callers decide which namespace and why.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

from testbed.errors import NetworkError

NETNS_DIR = Path("/run/netns")  # where `ip netns add NAME` pins a namespace
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_TIMERSLACK = 29

_libc = ctypes.CDLL(None, use_errno=True)


def setns_net(fd: int, what: str) -> None:
    """Move the calling thread into the network namespace open on `fd` (setns(2))."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise NetworkError(f"setns into {what}: {os.strerror(errno)} (errno {errno})")


@contextlib.contextmanager
def inside_netns(name: str) -> Iterator[None]:
    """Run the block with the calling thread in namespace `name`, then return it home.

    setns(2) moves one thread only: callers with other threads that must stay put either
    use a dedicated thread or, like the medium at start-up, have no other thread yet.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            target = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise NetworkError(f"netns {name}: {error.strerror} ({NETNS_DIR / name})") from None
        try:
            setns_net(target, f"netns {name}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            setns_net(own, "the thread's own netns")
    finally:
        os.close(own)


def prctl(option: int, value: int) -> bool:
    """prctl(2) with one argument; False where the call is not available."""
    try:
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except AttributeError:
        return False
