"""IEEE 802.15.4 frame check sequence: CRC-16/ITU-T as the standard computes it.

IEEE 802.15.4-2006 §7.2.1.9: the FCS is the 16-bit ITU-T CRC, generator
x^16 + x^12 + x^5 + 1, bits taken least significant first, register starting at 0,
no final XOR (the catalogue calls it CRC-16/KERMIT), sent least significant byte
first. This module is only the checksum; framing lives in `mac.py`.

Why the bit reversal: `binascii.crc_hqx` is the same polynomial in C, but
MSB-first (CRC-16/XMODEM). Feeding it bit-reversed bytes and bit-reversing the
16-bit result gives the reflected (LSB-first) CRC, at C speed instead of a Python
loop per byte, which matters on the radio medium's per-frame hot path.
"""

from __future__ import annotations

import binascii

#: `_BIT_REVERSE[b]` is `b` with its 8 bits in the opposite order.
_BIT_REVERSE = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))

_crc_hqx = binascii.crc_hqx


def fcs16(data: bytes) -> int:
    """CRC-16/ITU-T (Kermit) of `data`, IEEE 802.15.4-2006 §7.2.1.9.

    Append it to a frame as `fcs16(mhr_and_payload).to_bytes(2, "little")`.
    """
    crc = _crc_hqx(data.translate(_BIT_REVERSE), 0)
    return (_BIT_REVERSE[crc & 0xFF] << 8) | _BIT_REVERSE[crc >> 8]


def fcs_ok(psdu: bytes) -> bool:
    """Whether a whole PSDU (MHR + payload + FCS) checks out, without slicing the FCS off.

    A CRC with no final XOR run over a message followed by its own (reflected, LSB-first) CRC
    leaves 0 in the register: the residue of CRC-16/KERMIT is 0x0000.
    """
    return not _crc_hqx(psdu.translate(_BIT_REVERSE), 0)


def fcs_bytes(data: bytes) -> bytes:
    """The 2-byte FCS field for `data`, least significant byte first."""
    crc = _crc_hqx(data.translate(_BIT_REVERSE), 0)
    return bytes((_BIT_REVERSE[crc >> 8], _BIT_REVERSE[crc & 0xFF]))
