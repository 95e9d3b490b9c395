"""Attach to a persistent TAP device that lives in another network namespace.

What it is: `attach_tap(netns, ifname) -> fd`: enter the namespace named under
/run/netns (setns(2) with CLONE_NEWNET, through libc since Python 3.11 has no
os.setns), open /dev/net/tun there and bind it to the existing TAP with
TUNSETIFF (IFF_TAP | IFF_NO_PI: whole Ethernet frames, no packet-info header),
then return to the original namespace. The file descriptor keeps working from
any namespace. What it is not: creating the TAP (the backend does that with
`ip tuntap add`, so the device and its sysctls outlive the medium).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

from testbed.errors import NetworkError

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise NetworkError(f"setns into {what}: {os.strerror(errno)} (errno {errno})")


def attach_tap(netns: str, ifname: str) -> int:
    """A non-blocking fd on TAP `ifname` in namespace `netns` (/run/netns/<netns>)."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            target = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise NetworkError(f"netns {netns}: {error.strerror} (/run/netns/{netns})") from None
        try:
            _setns(target, f"netns {netns}")
            try:
                fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
                try:
                    request = struct.pack("16sH22x", ifname.encode(), IFF_TAP | IFF_NO_PI)
                    fcntl.ioctl(fd, TUNSETIFF, request)
                except OSError as error:
                    os.close(fd)
                    raise NetworkError(
                        f"netns {netns}: TUNSETIFF {ifname}: {error.strerror} (is it a "
                        "persistent TAP made with `ip tuntap add dev "
                        f"{ifname} mode tap`?)"
                    ) from None
            finally:
                _setns(own, "the medium's own netns")
        finally:
            os.close(target)
    finally:
        os.close(own)
    return fd
