"""FCS: CRC-16/ITU-T as IEEE 802.15.4-2006 §7.2.1.9 defines it, against two references."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dot15d4 import Dot15d4FCS

from testbed.lowpan.fcs import fcs16, fcs_bytes, fcs_ok


def reference_crc(data: bytes) -> int:
    """Bit-serial CRC straight from the standard's shift-register description."""
    crc = 0
    for byte in data:
        for bit in range(8):  # least significant bit first
            feedback = ((byte >> bit) ^ crc) & 1
            crc >>= 1
            if feedback:
                crc ^= 0x8408  # 0x1021 reflected
    return crc


def test_catalogue_check_value() -> None:
    # CRC-16/KERMIT check value over "123456789" (the CRC catalogue's test string).
    assert fcs16(b"123456789") == 0x2189


def test_empty_input_is_zero() -> None:
    assert fcs16(b"") == 0


def test_ack_frame_vector() -> None:
    # ACK for sequence number 0x56 (FCF 0x0002): worked by hand with the bit-serial form.
    assert fcs16(b"\x02\x00\x56") == reference_crc(b"\x02\x00\x56")


@given(st.binary(max_size=200))
def test_matches_bitwise_reference(data: bytes) -> None:
    assert fcs16(data) == reference_crc(data)


@given(st.binary(max_size=125))
def test_matches_scapy_and_is_little_endian(data: bytes) -> None:
    assert fcs_bytes(data) == Dot15d4FCS().compute_fcs(data)
    assert fcs_bytes(data) == fcs16(data).to_bytes(2, "little")


@given(st.binary(max_size=125), st.integers(0, 17))
def test_fcs_ok_is_the_checked_fcs(data: bytes, flip: int) -> None:
    """fcs_ok (the residue test) accepts a frame exactly when its last 2 bytes are fcs_bytes of
    the rest: an intact frame, and one bit flipped anywhere in the FCS or the byte before."""
    good = data + fcs_bytes(data)
    assert fcs_ok(good)
    bad = bytearray(good)
    bad[-1 - flip // 8 % len(bad)] ^= 1 << flip % 8
    assert fcs_ok(bytes(bad)) == (fcs_bytes(bytes(bad[:-2])) == bytes(bad[-2:]))
    assert not fcs_ok(bytes(bad))


@given(st.binary(min_size=2, max_size=127))
def test_fcs_ok_agrees_on_any_bytes(psdu: bytes) -> None:
    assert fcs_ok(psdu) == (fcs16(psdu[:-2]) == psdu[-2] | psdu[-1] << 8)
