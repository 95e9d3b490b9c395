"""coap.py (RFC 7252 §3) against hand-computed vectors and aiocoap as the independent codec."""

from __future__ import annotations

import sys
from pathlib import Path

import aiocoap
import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import coap  # noqa: E402
from aiocoap.numbers.codes import Code  # noqa: E402
from aiocoap.numbers.optionnumbers import OptionNumber  # noqa: E402
from aiocoap.numbers.types import Type  # noqa: E402

# option number -> value kind, all understood by aiocoap the same way (minimal uints, UTF-8
# strings, opaque); 100..65000 are unassigned (opaque) and exercise the 1- and 2-byte deltas.
OPTION_KINDS = {
    coap.IF_MATCH: "opaque", coap.URI_HOST: "string", coap.ETAG: "opaque",
    coap.OBSERVE: "uint", coap.LOCATION_PATH: "string", coap.URI_PATH: "string",
    coap.CONTENT_FORMAT: "uint", coap.MAX_AGE: "uint", coap.URI_QUERY: "string",
    coap.ACCEPT: "uint", coap.SIZE2: "uint", coap.PROXY_URI: "string", coap.SIZE1: "uint",
    100: "opaque", 1000: "opaque", 3000: "opaque", 65000: "opaque",
}
VALUES = {
    "opaque": st.binary(max_size=300),
    "string": st.text(max_size=40).map(str.encode),
    "uint": st.integers(0, 2**32 - 1).map(coap.encode_uint),
}


@st.composite
def messages(draw, any_options=False):
    code = draw(st.sampled_from([coap.EMPTY, coap.GET, coap.POST, coap.CONTENT, coap.NOT_FOUND,
                                 coap.METHOD_NOT_ALLOWED, 0xA0]))
    mtype = draw(st.integers(0, 3))
    mid = draw(st.integers(0, 0xFFFF))
    if code == coap.EMPTY:
        return coap.Message(mtype, code, mid)
    if any_options:
        option = st.tuples(st.integers(0, 65804), st.binary(max_size=300))
    else:
        option = st.sampled_from(sorted(OPTION_KINDS)).flatmap(
            lambda n: st.tuples(st.just(n), VALUES[OPTION_KINDS[n]]))
    return coap.Message(mtype, code, mid, draw(st.binary(max_size=8)),
                        draw(st.lists(option, max_size=6)), draw(st.binary(max_size=200)))


def aiocoap_options(message: aiocoap.Message) -> list[tuple[int, bytes]]:
    return [(int(o.number), o.encode()) for o in message.opt.option_list()]


def aiocoap_outgoing(mtype, code, mid, token, options, payload) -> aiocoap.Message:
    """A message built with aiocoap's own API, option by option (aiocoap encodes it)."""
    message = aiocoap.Message(code=Code(code), payload=payload)
    message.mtype, message.mid, message.token = Type(mtype), mid, token
    for number, value in options:
        message.opt.add_option(OptionNumber(number).create_option(decode=value))
    return message


@given(messages(any_options=True))
def test_decode_inverts_encode(message):
    data = coap.encode(message)
    assert coap.decode(data) == message
    assert coap.encode(coap.decode(data)) == data


@given(messages())
def test_aiocoap_decodes_what_we_encode(message):
    data = coap.encode(message)
    theirs = aiocoap.Message.decode(data)
    assert (int(theirs.mtype), int(theirs.code), theirs.mid, theirs.token, theirs.payload) == (
        message.mtype, message.code, message.mid, message.token, message.payload)
    assert aiocoap_options(theirs) == coap.sorted_options(message.options)
    again = aiocoap_outgoing(theirs.mtype, theirs.code, theirs.mid, theirs.token,
                             aiocoap_options(theirs), theirs.payload)
    assert again.encode() == data


@given(messages())
def test_we_decode_what_aiocoap_encodes(message):
    data = aiocoap_outgoing(message.mtype, message.code, message.mid, message.token,
                            message.options, message.payload).encode()
    ours = coap.decode(data)
    assert ours == message
    assert coap.encode(ours) == data


def test_reference_get_temperature_is_17_bytes():
    """REFERENCES.md: CON GET /temperature with a 1-byte token: 4 + 1 + 12 = 17 bytes."""
    get = coap.Message(coap.CON, coap.GET, 0x1234, b"\x7a", [(coap.URI_PATH, b"temperature")])
    data = coap.encode(get)
    assert data == bytes([0x41, 0x01, 0x12, 0x34, 0x7A, 0xBB]) + b"temperature"
    assert len(data) == 17
    assert aiocoap.Message.decode(data).opt.uri_path == ("temperature",)


def test_reference_piggybacked_content_is_12_bytes():
    """REFERENCES.md: 2.05 piggybacked ACK, payload "22.5 C": 4 + 1 + 1 + 6 = 12 bytes."""
    ack = coap.Message(coap.ACK, coap.CONTENT, 0x1234, b"\x7a", [], b"22.5 C")
    data = coap.encode(ack)
    assert data == bytes([0x61, 0x45, 0x12, 0x34, 0x7A, 0xFF]) + b"22.5 C"
    assert len(data) == 12


def test_get_sensors_temperature_is_25_bytes():
    get = coap.Message(coap.CON, coap.GET, 1, b"\x01",
                       [(coap.URI_PATH, b"sensors"), (coap.URI_PATH, b"temperature")])
    assert len(coap.encode(get)) == 4 + 1 + (1 + 7) + (1 + 11)
    assert coap.decode(coap.encode(get)).uri_path() == "/sensors/temperature"


@pytest.mark.parametrize("number, length, header", [
    (12, 0, b"\xc0"), (13, 0, b"\xd0\x00"), (268, 12, b"\xdc\xff"), (269, 13, b"\xed\x00\x00\x00"),
    (65804, 269, b"\xee\xff\xff\x00\x00"),
])
def test_extended_delta_and_length(number, length, header):
    """RFC 7252 §3.1: nibbles 13 and 14 carry (value - 13) in 1 byte, (value - 269) in 2."""
    data = coap.encode(coap.Message(coap.NON, coap.GET, 0, b"", [(number, b"x" * length)]))
    assert data[4:4 + len(header)] == header


@pytest.mark.parametrize("data, where", [
    (b"\x40\x01\x00", "offset 0: 3 bytes"),
    (b"\x80\x01\x00\x00", "version 2"),
    (b"\x49\x01\x00\x00" + b"t" * 9, "token length 9"),
    (b"\x42\x01\x00\x00\x01", "token truncated"),
    (b"\x40\x01\x00\x00\xff", "payload marker without payload"),
    (b"\x40\x01\x00\x00\xf0", "reserved option nibble 15"),
    (b"\x40\x01\x00\x00\x0f", "reserved option nibble 15"),
    (b"\x40\x01\x00\x00\xd1", "option extension truncated"),
    (b"\x40\x01\x00\x00\xb3ab", "option value truncated"),
    (b"\x41\x00\x00\x00\x01", "empty message"),
])
def test_format_errors_say_where(data, where):
    with pytest.raises(coap.FormatError, match=where):
        coap.decode(data)


@given(st.binary(max_size=40))
def test_decode_never_raises_anything_but_format_error(data):
    try:
        coap.decode(data)
    except coap.FormatError:
        pass


def test_code_text_and_critical():
    assert coap.code_text(coap.CONTENT) == "2.05"
    assert coap.code_text(coap.METHOD_NOT_ALLOWED) == "4.05"
    assert coap.is_critical(coap.URI_PATH) and not coap.is_critical(coap.ETAG)
