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

import fcntl
import os
import struct

from testbed.errors import NetworkError
from testbed.linux import inside_netns

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def attach_tap(netns: str, ifname: str) -> int:
    """A non-blocking fd on TAP `ifname` in namespace `netns` (/run/netns/<netns>)."""
    with inside_netns(netns):
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            request = struct.pack("16sH22x", ifname.encode(), IFF_TAP | IFF_NO_PI)
            fcntl.ioctl(fd, TUNSETIFF, request)
        except OSError as error:
            os.close(fd)
            raise NetworkError(
                f"netns {netns}: TUNSETIFF {ifname}: {error.strerror} (is it a "
                f"persistent TAP made with `ip tuntap add dev {ifname} mode tap`?)"
            ) from None
    return fd
