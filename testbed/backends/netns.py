"""Small helpers around Linux network namespaces: `ip` commands, setns, processes inside.

Speed matters for a 100-node bring-up, so the helpers batch: one `ip -batch -` for all
`netns add` (or `netns del`), one `ip -n NS -batch -` per node, and sysctls are written
in-process from a thread that entered the namespace with setns(2) instead of forking
`ip netns exec ... sysctl` a hundred times. Every command is an argv list; nothing goes
through a shell.

This module knows nothing about topologies or runs; `emulated.py` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from testbed.errors import NetworkError, PrivilegeError
from testbed.linux import NETNS_DIR, inside_netns

CAP_NET_ADMIN = 12

T = TypeVar("T")



def has_net_admin() -> bool:
    """True if this process holds CAP_NET_ADMIN (root, or root of a user namespace)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    return False


def require_net_admin() -> None:
    """Raise PrivilegeError (with the way out) unless we may create namespaces."""
    if not has_net_admin():
        raise PrivilegeError(
            "the emulated backend needs CAP_NET_ADMIN: run as root, or inside an unprivileged "
            "user+net namespace: unshare --user --map-root-user --net --mount sh -c "
            "'mount -t tmpfs none /run && testbed ...' (fresh /run/netns and /run/testbed)"
        )


def ip(args: Sequence[str], *, netns: str | None = None, stdin: str | None = None) -> str:
    """Run `ip [-n NS] ARGS...`; return stdout; a failure is a NetworkError with ip's stderr."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        where = f" in {netns}" if netns else ""
        first = (stdin or "").strip().splitlines()[:1]
        what = f" (batch starting {first[0]!r})" if first else ""
        raise NetworkError(f"`{' '.join(argv)}`{where}{what} failed: {proc.stderr.strip()}")
    return proc.stdout


def ip_batch(lines: Iterable[str], *, netns: str | None = None, force: bool = False) -> None:
    """Run many `ip` commands in one process (`ip [-n NS] [-force] -batch -`).

    Each line is an `ip` command without the leading `ip`. Lines are built by this package
    from validated names and addresses only (names are [a-z0-9-]+), never from raw user text.
    With `force`, ip carries on after a failing line (what tear-down wants).
    """
    lines = list(lines)
    for line in lines:
        if "\n" in line or "\r" in line:  # one line is one command: never let a name add one
            raise NetworkError(f"refusing an ip batch line with a line break: {line!r}")
    text = "\n".join(lines)
    if not text:
        return
    ip([*(["-force"] if force else []), "-batch", "-"], netns=netns, stdin=text + "\n")


def add_netns(names: Sequence[str]) -> None:
    """Create namespaces, all in one `ip -batch`."""
    ip_batch(f"netns add {name}" for name in names)


def delete_netns(names: Sequence[str]) -> list[str]:
    """Delete those of `names` that exist (one `ip -force -batch`); return the ones deleted."""
    present = [n for n in names if (NETNS_DIR / n).exists()]
    if present:
        try:
            ip_batch((f"netns del {n}" for n in present), force=True)
        except NetworkError:
            pass  # -force already tried every line; what is left is reported below
    return [n for n in present if not (NETNS_DIR / n).exists()]


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


# --- setns(2) on a dedicated thread -----------------------------------------------------------


def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Call `fn()` inside network namespace `name`, in this process, without forking.

    setns(2) changes the namespace of the calling *thread* only, so `fn` runs on a
    short-lived thread that enters the namespace and then ends: the caller's thread (and
    every other thread) stays where it was (testbed.linux.inside_netns).
    """
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            with inside_netns(name):
                result.append(fn())
        except BaseException as exc:  # handed to the caller's thread
            error.append(exc)

    thread = threading.Thread(target=body, name=f"setns-{name}", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def write_sysctls(name: str, values: dict[str, str]) -> None:
    """Write /proc/sys entries (e.g. `net/ipv6/conf/default/accept_dad`) inside namespace `name`.

    /proc/sys/net resolves to the network namespace of the thread that opens it.
    """

    def write() -> None:
        for key, value in values.items():
            Path("/proc/sys", key).write_text(f"{value}\n")

    try:
        run_in_netns(name, write)
    except OSError as exc:
        raise NetworkError(f"{name}: cannot write sysctl: {exc}") from exc


# --- processes inside namespaces --------------------------------------------------------------


def pids_in_netns(names: Iterable[str]) -> dict[str, list[int]]:
    """Pids whose network namespace is one of `names` (what `ip netns pids` does, for all at once).

    One scan of /proc compares each process's /proc/<pid>/ns/net with the bind mount in
    /run/netns, instead of forking `ip netns pids` once per namespace.
    """
    inodes: dict[tuple[int, int], str] = {}
    for name in names:
        try:
            st = os.stat(NETNS_DIR / name)
        except FileNotFoundError:
            continue
        inodes[(st.st_dev, st.st_ino)] = name
    found: dict[str, list[int]] = {name: [] for name in inodes.values()}
    if not inodes:
        return found
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry.name}/ns/net")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        name = inodes.get((st.st_dev, st.st_ino))
        if name is not None:
            found[name].append(int(entry.name))
    return found


def kill_pids(pids: Iterable[int], *, grace_s: float = 1.0) -> list[int]:
    """SIGTERM `pids`, SIGKILL what is left after `grace_s`; return the pids that were signalled."""
    signalled = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            signalled.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    left = list(signalled)
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if _running(p)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return signalled


def _running(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (our own children are reaped elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def kill_netns_processes(names: Iterable[str], *, grace_s: float = 1.0) -> dict[str, list[int]]:
    """Kill every process living in one of the namespaces `names`; return them per namespace."""
    found = pids_in_netns(names)
    kill_pids([pid for pids in found.values() for pid in pids], grace_s=grace_s)
    return {name: pids for name, pids in found.items() if pids}
