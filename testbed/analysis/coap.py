"""CoAP messages as the analysis sees them on the air: type, code, token, Observe, reading seq.

What it is: a lean parser of one CoAP message (RFC 7252 §3) that tells what the message is
for (request, response, notification, empty ACK/RST); which reading a payload carries is
readings.reading_seq's to say.
What it is not: a CoAP stack (aiocoap in the sinks is) nor a validator of option semantics.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


from testbed.errors import FrameError

COAP_PORT = 5683
HEADER_LENGTH = 4
PAYLOAD_MARKER = 0xFF


class CoapType(IntEnum):
    """RFC 7252 §3: the 2-bit message type."""

    CON = 0
    NON = 1
    ACK = 2
    RST = 3


class OptionNumber(IntEnum):
    """The options the analysis looks at (RFC 7252 §12.2, RFC 7641 §2)."""

    OBSERVE = 6
    URI_PATH = 11


@dataclass(frozen=True, slots=True)
class CoapMessage:
    type: CoapType
    code: int  # class << 5 | detail
    message_id: int
    token: bytes
    observe: int | None
    uri_path: str
    payload: bytes

    @property
    def is_empty(self) -> bool:
        return self.code == 0

    @property
    def is_request(self) -> bool:
        return 0 < self.code < 32

    @property
    def purpose(self) -> str:
        """request | response | notification | ack | rst (RFC 7252 §4, RFC 7641 §4.2)."""
        if self.is_empty:
            return "coap-rst" if self.type is CoapType.RST else "coap-ack"
        if self.is_request:
            return "coap-request"
        if self.observe is not None and self.type in (CoapType.CON, CoapType.NON):
            return "coap-notification"
        return "coap-response"


# RFC 7252 §3, §3.1
def parse(data: bytes) -> CoapMessage:
    """One CoAP message; FrameError naming the offset of what is wrong."""
    if len(data) < HEADER_LENGTH:
        raise FrameError(f"offset {len(data)}: CoAP header truncated ({len(data)} of 4 bytes)")
    b0 = data[0]
    if b0 >> 6 != 1:
        raise FrameError(f"offset 0: CoAP version {b0 >> 6} (expected 1)")
    tkl = b0 & 0x0F
    if tkl > 8:
        raise FrameError(f"offset 0: CoAP token length {tkl} is reserved")
    pos = HEADER_LENGTH + tkl
    if pos > len(data):
        raise FrameError(f"offset {len(data)}: CoAP token truncated")
    token = data[HEADER_LENGTH:pos]
    number = 0
    observe = None
    path: list[str] = []
    n = len(data)
    while pos < n and data[pos] != PAYLOAD_MARKER:
        start = pos
        delta, length = data[pos] >> 4, data[pos] & 0x0F
        pos += 1
        delta, pos = _extended(data, delta, pos, start)
        length, pos = _extended(data, length, pos, start)
        if pos + length > n:
            raise FrameError(f"offset {n}: CoAP option at {start} truncated")
        number += delta
        value = data[pos:pos + length]
        if number == OptionNumber.OBSERVE:
            observe = int.from_bytes(value, "big")
        elif number == OptionNumber.URI_PATH:
            path.append(value.decode("utf-8", "replace"))
        pos += length
    payload = data[pos + 1:] if pos < n else b""
    return CoapMessage(CoapType(b0 >> 4 & 3), data[1], (data[2] << 8) | data[3], token,
                       observe, "/".join(path), payload)


def _extended(data: bytes, nibble: int, pos: int, start: int) -> tuple[int, int]:
    """RFC 7252 §3.1: nibble 13 -> one more byte + 13, 14 -> two more bytes + 269, 15 reserved."""
    if nibble < 13:
        return nibble, pos
    if nibble == 13 and pos < len(data):
        return data[pos] + 13, pos + 1
    if nibble == 14 and pos + 1 < len(data):
        return ((data[pos] << 8) | data[pos + 1]) + 269, pos + 2
    raise FrameError(f"offset {start}: CoAP option header reserved or truncated")
