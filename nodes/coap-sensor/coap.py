"""CoAP message codec (RFC 7252 §3), small enough for MicroPython.

What it is: encode/decode of one CoAP message (header, token, options, payload) and the
registry numbers the sensor needs. What it is not: a transport, no retransmission or matching
(main.py does that), no block-wise transfer.
Runs on MicroPython and CPython: struct only, no typing, no dataclasses.
"""

import struct

VERSION = 1

# RFC 7252 §3: message types (T)
CON = 0
NON = 1
ACK = 2
RST = 3
TYPE_NAMES = ("CON", "NON", "ACK", "RST")

# RFC 7252 §12.1: codes, as one byte c.dd = c << 5 | dd
EMPTY = 0x00
GET = 0x01
POST = 0x02
PUT = 0x03
DELETE = 0x04
CONTENT = 0x45  # 2.05
BAD_REQUEST = 0x80  # 4.00
BAD_OPTION = 0x82  # 4.02
NOT_FOUND = 0x84  # 4.04
METHOD_NOT_ALLOWED = 0x85  # 4.05
NOT_ACCEPTABLE = 0x86  # 4.06
PROXYING_NOT_SUPPORTED = 0xA5  # 5.05

# RFC 7252 §5.10 (table 4) and §12.2; Observe: RFC 7641 §2; Block2: RFC 7959 §2.1
IF_MATCH = 1
URI_HOST = 3
ETAG = 4
IF_NONE_MATCH = 5
OBSERVE = 6
URI_PORT = 7
LOCATION_PATH = 8
URI_PATH = 11
CONTENT_FORMAT = 12
MAX_AGE = 14
URI_QUERY = 15
ACCEPT = 17
LOCATION_QUERY = 20
BLOCK2 = 23
SIZE2 = 28
PROXY_URI = 35
PROXY_SCHEME = 39
SIZE1 = 60

# RFC 7252 §12.3 content formats; SenML CBOR: RFC 8428 §12.3
TEXT_PLAIN = 0
LINK_FORMAT = 40  # RFC 6690
SENML_JSON = 110  # RFC 8428 §12.3
SENML_CBOR = 112
APPLICATION_XML = 41  # RFC 7252 §12.3 (the XEP-0323 payload)

PAYLOAD_MARKER = 0xFF


class FormatError(ValueError):
    """A datagram that is not a well-formed CoAP message (RFC 7252 §3, §4.1: "format error")."""


def code_text(code):
    """`c.dd` as RFC 7252 §3 writes a code (0x45 -> "2.05")."""
    return "%d.%02d" % (code >> 5, code & 0x1F)


def is_critical(number):
    """RFC 7252 §5.4.1: odd option numbers are critical."""
    return number & 1 == 1


# RFC 7252 §3.2: uint option values, shortest big-endian form (0 is the empty string)
def encode_uint(value):
    if value < 0:
        raise ValueError("uint option value must not be negative")
    out = b""
    while value:
        out = bytes((value & 0xFF,)) + out
        value >>= 8
    return out


def decode_uint(data):
    value = 0
    for byte in data:
        value = (value << 8) | byte
    return value


class Message:
    """One CoAP message; `options` is a list of (number, bytes) kept in the order given."""

    def __init__(self, mtype=CON, code=EMPTY, mid=0, token=b"", options=None, payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.options = list(options or ())
        self.payload = payload

    def option(self, number, default=None):
        """The first value of option `number`."""
        for n, value in self.options:
            if n == number:
                return value
        return default

    def option_values(self, number):
        return [value for n, value in self.options if n == number]

    def uri_path(self):
        """RFC 7252 §6.5: the path as '/'-joined Uri-Path segments ('/' alone for none)."""
        return "/" + "/".join(segment.decode() for segment in self.option_values(URI_PATH))

    def __eq__(self, other):
        return isinstance(other, Message) and (
            self.mtype, self.code, self.mid, self.token, sorted_options(self.options),
            self.payload,
        ) == (
            other.mtype, other.code, other.mid, other.token, sorted_options(other.options),
            other.payload,
        )

    def __repr__(self):
        return "Message(%s %s mid=%d token=%s options=%r payload=%r)" % (
            TYPE_NAMES[self.mtype], code_text(self.code), self.mid, self.token.hex(),
            self.options, self.payload,
        )


def sorted_options(options):
    """Options by number, stable: repeated options keep their order (RFC 7252 §5.4.5)."""
    indexed = [(number, i, value) for i, (number, value) in enumerate(options)]
    indexed.sort()
    return [(number, value) for number, _, value in indexed]


# RFC 7252 §3.1: option delta / length nibbles 13 (+1 byte, -13) and 14 (+2 bytes, -269)
def _nibble(value):
    if value < 13:
        return value, b""
    if value < 269:
        return 13, bytes((value - 13,))
    if value < 65805:
        return 14, struct.pack(">H", value - 269)
    raise ValueError("option delta/length %d too large" % value)


# RFC 7252 §3: Ver | T | TKL | Code | Message ID | Token | Options | 0xFF Payload
def encode(message):
    token = message.token
    if len(token) > 8:
        raise ValueError("token longer than 8 bytes")
    if not 0 <= message.mid <= 0xFFFF:
        raise ValueError("message ID out of range")
    out = [struct.pack(">BBH", (VERSION << 6) | (message.mtype << 4) | len(token),
                       message.code, message.mid), token]
    previous = 0
    for number, value in sorted_options(message.options):
        delta, delta_ext = _nibble(number - previous)
        length, length_ext = _nibble(len(value))
        out.append(bytes(((delta << 4) | length,)) + delta_ext + length_ext + value)
        previous = number
    if message.payload:
        out.append(bytes((PAYLOAD_MARKER,)) + message.payload)
    return b"".join(out)


def _extended(nibble, data, offset):
    """RFC 7252 §3.1: the value of a delta/length nibble, reading its extension bytes."""
    if nibble < 13:
        return nibble, offset
    if nibble == 13:
        if offset + 1 > len(data):
            raise FormatError("offset %d: option extension truncated" % offset)
        return data[offset] + 13, offset + 1
    if nibble == 14:
        if offset + 2 > len(data):
            raise FormatError("offset %d: option extension truncated" % offset)
        return struct.unpack(">H", data[offset:offset + 2])[0] + 269, offset + 2
    raise FormatError("offset %d: reserved option nibble 15" % offset)


def decode(data):
    """RFC 7252 §3 (and §4.1 for empty messages); raises FormatError("offset N: ...")."""
    if len(data) < 4:
        raise FormatError("offset 0: %d bytes, a CoAP header is 4" % len(data))
    first, code, mid = struct.unpack(">BBH", data[:4])
    if first >> 6 != VERSION:
        raise FormatError("offset 0: version %d, expected 1" % (first >> 6))
    tkl = first & 0x0F
    if tkl > 8:
        raise FormatError("offset 0: token length %d is reserved" % tkl)
    if 4 + tkl > len(data):
        raise FormatError("offset 4: token truncated")
    token = bytes(data[4:4 + tkl])
    offset = 4 + tkl
    options = []
    number = 0
    payload = b""
    while offset < len(data):
        byte = data[offset]
        if byte == PAYLOAD_MARKER:
            payload = bytes(data[offset + 1:])
            if not payload:
                raise FormatError("offset %d: payload marker without payload" % offset)
            break
        at = offset
        delta, offset = _extended(byte >> 4, data, offset + 1)
        length, offset = _extended(byte & 0x0F, data, offset)
        if offset + length > len(data):
            raise FormatError("offset %d: option value truncated" % at)
        number += delta
        options.append((number, bytes(data[offset:offset + length])))
        offset += length
    if code == EMPTY and (tkl or len(data) > 4):
        raise FormatError("offset 4: empty message (0.00) with token, options or payload")
    return Message(first >> 4 & 0x03, code, mid, token, options, payload)
