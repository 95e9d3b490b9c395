"""SenML readings in CBOR (RFC 8428 §6) with a minimal CBOR encoder (RFC 8949), for MicroPython.

What it is: an encoder for the CBOR subset SenML needs (major types 0-5 and 7) and the
SenML pack of one sensor reading. What it is not: a CBOR decoder (the sink uses cbor2), no
tags, no indefinite lengths.
"""

import struct

# RFC 8428 §6 (table 4): CBOR integer labels
BASE_NAME = -2  # bn
BASE_TIME = -3  # bt
NAME = 0  # n
UNIT = 1  # u
VALUE = 2  # v
STRING_VALUE = 3  # vs
BOOL_VALUE = 4  # vb
TIME = 6  # t

# RFC 8428 §12.1 units (SenML Units registry)
UNITS = {"temperature": "Cel", "humidity": "%RH", "pressure": "Pa", "illuminance": "lx"}


# RFC 8949 §3: initial byte = major type << 5 | additional information (argument encoding)
def _head(major, argument):
    if argument < 24:
        return bytes(((major << 5) | argument,))
    if argument < 0x100:
        return bytes(((major << 5) | 24, argument))
    if argument < 0x10000:
        return bytes(((major << 5) | 25,)) + struct.pack(">H", argument)
    if argument < 0x100000000:
        return bytes(((major << 5) | 26,)) + struct.pack(">I", argument)
    if argument < 0x10000000000000000:
        return bytes(((major << 5) | 27,)) + struct.pack(">Q", argument)
    raise ValueError("integer does not fit in 64 bits")


# RFC 8949 §3.3: floats; single precision (0xfa) when it holds the value exactly, else double
def _float(value):
    try:
        single = struct.pack(">f", value)
    except OverflowError:  # beyond the single range
        single = None
    if single is not None and struct.unpack(">f", single)[0] == value:
        return b"\xfa" + single
    return b"\xfb" + struct.pack(">d", value)


def encode(item):
    """RFC 8949 §3.1 major types 0 (uint), 1 (negint), 2 (bytes), 3 (text), 4 (array), 5 (map),
    7 (false/true/null, floats). Map keys keep the dict's order."""
    if item is False:
        return b"\xf4"
    if item is True:
        return b"\xf5"
    if item is None:
        return b"\xf6"
    if isinstance(item, int):
        if item >= 0:
            return _head(0, item)
        return _head(1, -1 - item)
    if isinstance(item, float):
        return _float(item)
    if isinstance(item, (bytes, bytearray)):
        return _head(2, len(item)) + bytes(item)
    if isinstance(item, str):
        data = item.encode()
        return _head(3, len(data)) + data
    if isinstance(item, (list, tuple)):
        return _head(4, len(item)) + b"".join(encode(x) for x in item)
    if isinstance(item, dict):
        return _head(5, len(item)) + b"".join(encode(k) + encode(v) for k, v in item.items())
    raise TypeError("cannot encode %r as CBOR" % (item,))


# RFC 8428 §4: the pack of one reading: base name "<node>/", base time = the node's time,
# the measurement, and a second record carrying the reading's sequence number.
def reading_pack(node, sensor, seq, t, value):
    record = {BASE_NAME: node + "/", BASE_TIME: float(t), NAME: sensor}
    unit = UNITS.get(sensor)
    if unit:
        record[UNIT] = unit
    record[VALUE] = float(value)
    return [record, {NAME: "seq", VALUE: seq}]


def encode_reading(node, sensor, seq, t, value):
    return encode(reading_pack(node, sensor, seq, t, value))
