"""CoAP as the analysis reads it (RFC 7252 §3, RFC 7641), with hand-computed sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.analysis import coap
from testbed.errors import FrameError

from .frames import coap_get


def test_a_con_get_with_a_1_byte_token_for_temperature_is_17_bytes() -> None:
    # 4 header + 1 token + 1 option header (delta 11, length 11) + 11 "temperature" = 17
    message = coap_get(0x1234, b"\xab", "temperature")
    assert len(message) == 17
    parsed = coap.parse(message)
    assert (parsed.type, parsed.code, parsed.message_id, parsed.token, parsed.uri_path) == (
        coap.CoapType.CON, 1, 0x1234, b"\xab", "temperature")
    assert parsed.purpose == "coap-request" and parsed.observe is None


def test_purposes() -> None:
    ack = bytes((0x60, 0, 0x12, 0x34))
    rst = bytes((0x70, 0, 0x12, 0x34))
    notification = bytes((0x51, 0x45, 0, 1, 0xAB, 0x61, 0x05, 0xFF)) + b"seq=5 t=1.000 v=2.0"
    piggybacked = bytes((0x61, 0x45, 0, 1, 0xAB, 0xFF)) + b"seq=1"
    register = bytes((0x41, 0x01, 0, 2, 0xAB, 0x60, 0x57)) + b"sensors"
    assert coap.parse(ack).purpose == "coap-ack"
    assert coap.parse(rst).purpose == "coap-rst"
    assert coap.parse(notification).purpose == "coap-notification"
    assert coap.parse(notification).observe == 5
    assert coap.parse(piggybacked).purpose == "coap-response"
    reg = coap.parse(register)
    assert reg.observe == 0 and reg.uri_path == "sensors"


def test_extended_option_lengths() -> None:
    long_path = "x" * 20  # length 20 -> nibble 13, one extra byte 7
    message = bytes((0x40, 1, 0, 1, 0xBD, 7)) + long_path.encode()
    assert coap.parse(message).uri_path == long_path


@pytest.mark.parametrize(("data", "offset"), [
    (b"\x40\x01", 2), (b"\x80\x01\x00\x00", 0), (b"\x4f\x01\x00\x00", 0),
    (b"\x40\x01\x00\x00\xbf", 4),
])
def test_bad_messages_name_the_offset(data: bytes, offset: int) -> None:
    with pytest.raises(FrameError, match=f"offset {offset}:"):
        coap.parse(data)


@given(st.binary(max_size=40))
def test_any_bytes_parse_or_raise_frame_error(data: bytes) -> None:
    try:
        coap.parse(data)
    except FrameError:
        pass
