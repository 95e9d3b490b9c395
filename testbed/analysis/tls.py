"""TLS records in a reassembled byte stream: where each starts and ends, and its content type.

What it is: `split_records(data, start, end)` walks the TLS record layer (RFC 8446 §5.1,
RFC 5246 §6.2: content type 1 byte, legacy version 2, length 2, then `length` bytes) and
returns `Record`s covering [start, end) exactly once; bytes that do not frame as a record
(a stream cut short, or not TLS at all) end in one record of type None. What it is not: a
decrypter or a handshake parser: the framing is all the byte accounting needs.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER_LENGTH = 5
CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
CONTENT_TYPES = {CHANGE_CIPHER_SPEC: "change_cipher_spec", ALERT: "alert",
                 HANDSHAKE: "handshake", APPLICATION_DATA: "application_data",
                 24: "heartbeat"}
MAX_CIPHERTEXT = 2 ** 14 + 2048  # RFC 5246 §6.2.3 (RFC 8446 §5.2 allows less: 2^14 + 256)


@dataclass(frozen=True, slots=True)
class Record:
    start: int  # offset in the stream
    end: int
    content_type: int | None  # None: bytes that are not (or not yet) a whole record


# RFC 8446 §5.1 TLSPlaintext / §5.2 TLSCiphertext; RFC 5246 §6.2.1
def split_records(data: bytes, start: int = 0, end: int | None = None) -> list[Record]:
    """The records of data[start:end], in stream order, every byte in exactly one."""
    end = len(data) if end is None else end
    out: list[Record] = []
    pos = start
    while pos < end:
        if end - pos < HEADER_LENGTH:
            out.append(Record(pos, end, None))
            break
        content_type = data[pos]
        major = data[pos + 1]
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        if content_type not in CONTENT_TYPES or major != 3 or length > MAX_CIPHERTEXT \
                or pos + HEADER_LENGTH + length > end:
            out.append(Record(pos, end, None))  # not a record boundary, or cut short
            break
        out.append(Record(pos, pos + HEADER_LENGTH + length, content_type))
        pos += HEADER_LENGTH + length
    return out
