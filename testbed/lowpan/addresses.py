"""Link-layer and IPv6 addresses of a node, all derived from its 16-bit short address.

One node has one short address `s` (1..0xfffd). Everything else follows from it, so
that 6LoWPAN header compression (RFC 6282 §3.2.2) elides every address on the air:

- IEEE 802.15.4 short address: `s`;
- IEEE 802.15.4 extended address (EUI-64): 02:00:00:ff:fe:00:HH:LL;
- Ethernet MAC of the node's TAP `wpan0`: 02:00:00:00:HH:LL (the kernel sees Ethernet);
- IPv6 interface identifier: 0000:00ff:fe00:HHLL. This is at once what RFC 6282 derives
  from the short address, what it derives from the EUI-64 above (U/L bit inverted), and
  what the Linux kernel derives from the TAP's MAC, so the kernel's own link-local address
  is already the compressible one.

This module is not a codec: it only names addresses. It is the one place that knows the
mapping; the medium, the emulated backend and the analysis all call it.
"""

from __future__ import annotations

import ipaddress

BROADCAST_SHORT = 0xFFFF
MAX_SHORT = 0xFFFD  # 0xfffe means "no short address", 0xffff is broadcast (802.15.4 §7.2.1)


def check_short(short: int) -> int:
    """Return `short` if it can name a node, else raise ValueError."""
    if not 1 <= short <= MAX_SHORT:
        raise ValueError(f"short address {short:#06x} outside 0x0001..{MAX_SHORT:#06x}")
    return short


def eui64(short: int) -> int:
    """The node's IEEE 802.15.4 extended address (EUI-64) as a 64-bit integer."""
    return 0x020000FFFE000000 | check_short(short)


def mac48(short: int) -> bytes:
    """Ethernet MAC of the node's TAP: 02:00:00:00:HH:LL."""
    return bytes((2, 0, 0, 0, short >> 8, short & 0xFF))


def mac48_text(short: int) -> str:
    """The TAP MAC as `ip link` wants it."""
    return ":".join(f"{b:02x}" for b in mac48(short))


def short_from_mac48(mac: bytes) -> int | None:
    """The short address behind a TAP MAC, or None for a MAC that is not a node's."""
    if mac[:4] != b"\x02\x00\x00\x00":
        return None
    short = (mac[4] << 8) | mac[5]
    return short if 1 <= short <= MAX_SHORT else None


def iid(short: int) -> bytes:
    """IPv6 interface identifier (8 bytes) derived from the short address, RFC 6282 §3.2.2."""
    return b"\x00\x00\x00\xff\xfe\x00" + bytes((short >> 8, short & 0xFF))


def link_local(short: int) -> ipaddress.IPv6Address:
    """fe80::ff:fe00:HHLL."""
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid(short))


def global_address(prefix: ipaddress.IPv6Network, short: int) -> ipaddress.IPv6Address:
    """The node's address in the PAN prefix (a /64): prefix + IID."""
    if prefix.prefixlen != 64:
        raise ValueError(f"PAN prefix {prefix} is not a /64")
    return ipaddress.IPv6Address(prefix.network_address.packed[:8] + iid(short))
