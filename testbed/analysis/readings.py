"""Which reading a captured payload carries, in every format a run can choose (`--payload`).

What it is: `reading_seq(data)` finds the sequence number in a CoAP payload or an XMPP stanza's
bytes: text "seq=<n>", a SenML JSON record {"n":"seq","v":<n>}, XEP-0323 seqnr='<n>', a SenML
CBOR pack (raw in CoAP, base64 in an XMPP <cbor/> element). What it is not: a payload parser
(the sinks read the values, services/payload.py); it only needs the number to attribute bytes.
"""

from __future__ import annotations

import base64
import binascii
import re

import cbor2

_TEXT_SEQ = re.compile(rb"(?:^|[\s>])seq=(\d+)")
_JSON_SEQ = re.compile(rb'\{\s*"n"\s*:\s*"seq"\s*,\s*"v"\s*:\s*(\d+)\s*\}')
_SEQNR = re.compile(rb"""\sseqnr\s*=\s*["'](\d+)["']""")
_CBOR_ELEMENT = re.compile(rb"<cbor\b[^>]*>([A-Za-z0-9+/=\s]+)</cbor>")
#: SenML CBOR labels, RFC 8428 §6: n = 0 (name), v = 2 (value)
SENML_NAME = 0
SENML_VALUE = 2


def reading_seq(data: bytes) -> int | None:
    """The reading sequence number `data` carries, or None."""
    for pattern in (_JSON_SEQ, _SEQNR, _TEXT_SEQ):
        match = pattern.search(data)
        if match:
            return int(match[1])
    element = _CBOR_ELEMENT.search(data)
    if element:
        try:
            data = base64.b64decode(element[1], validate=False)
        except (binascii.Error, ValueError):
            return None
    return _cbor_seq(data)


def _cbor_seq(data: bytes) -> int | None:
    if not data or data[0] & 0xE0 != 0x80:  # a CBOR array (major type 4), RFC 8949 §3.1
        return None
    try:
        pack = cbor2.loads(data)
    except (ValueError, EOFError, cbor2.CBORDecodeError):
        return None
    for record in pack if isinstance(pack, list) else ():
        if isinstance(record, dict) and record.get(SENML_NAME) == "seq":
            value = record.get(SENML_VALUE)
            return value if isinstance(value, int) else None
    return None
