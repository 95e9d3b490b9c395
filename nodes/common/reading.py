"""One sensor reading in every payload format the comparison offers (MicroPython/CPython).

Shared by both node apps (each app folder holds a link to this file), so a CoAP and an XMPP
node with the same name, seed and clock put the same application bytes on the air for the
same reading: the comparison then measures the protocols, not two payload encoders.

Formats (`--payload`):
  senml-json  RFC 8428 §5 JSON pack, written with fixed decimals (t to the ms, v to 0.1), so
              every port writes the same bytes (no float repr)
  senml-cbor  RFC 8428 §6 CBOR pack (integer labels)
  xep0323     the XEP-0323 <fields/> element (urn:xmpp:iot:sensordata), compact
  text        "seq=<n> t=<epoch> v=<value>", one sensor

A reading is (node, seq, t, values): `values` = [(sensor, value)]; the pack's last record
carries the sequence number ("seq"). What it is not: a decoder (the sinks use cbor2, json,
ElementTree), no CBOR tags or indefinite lengths.
"""

import struct

try:
    import time
except ImportError:  # pragma: no cover
    import utime as time

FORMATS = ("senml-json", "senml-cbor", "xep0323", "text")

# RFC 8428 §12.1 (SenML Units registry): the one unit table of both apps and the sinks
UNITS = {"temperature": "Cel", "humidity": "%RH", "pressure": "Pa", "illuminance": "lx"}

# RFC 8428 §6 (table 4): CBOR integer labels
BASE_NAME = -2  # bn
BASE_TIME = -3  # bt
NAME = 0  # n
UNIT = 1  # u
VALUE = 2  # v
TIME = 6  # t

NS_SENSORDATA = "urn:xmpp:iot:sensordata"


def reading_value(name, sensor, seq, seed):
    """The value of reading `seq`: 20.0 .. 29.9, a function of (name, sensor, seq, seed) only,
    so a sink can check it (nodes/contiki/common/reading.c computes the same)."""
    offset = 0
    for byte in (name + "/" + sensor).encode():
        offset = (offset * 31 + byte) % 1000
    return 20 + ((seq * 37 + seed * 11 + offset) % 100) / 10


# --- CBOR (RFC 8949) ---------------------------------------------------------------------


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


def cbor(item):
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
        return _head(4, len(item)) + b"".join(cbor(x) for x in item)
    if isinstance(item, dict):
        return _head(5, len(item)) + b"".join(cbor(k) + cbor(v) for k, v in item.items())
    raise TypeError("cannot encode %r as CBOR" % (item,))


# --- SenML (RFC 8428) --------------------------------------------------------------------


# RFC 8428 §4: base name "<node>/" and base time in the first record, one record per sensor,
# the sequence number last. Records are lists of (label, value) pairs, not dicts: MicroPython
# does not keep a dict's insertion order, and the bytes must not depend on the port.
def senml_records(node, seq, t, values):
    records = []
    for sensor, value in values:
        record = [(BASE_NAME, node + "/"), (BASE_TIME, float(t))] if not records else []
        record.append((NAME, sensor))
        unit = UNITS.get(sensor)
        if unit:
            record.append((UNIT, unit))
        record.append((VALUE, float(value)))
        records.append(record)
    records.append([(NAME, "seq"), (VALUE, seq)])
    return records


def senml_cbor(node, seq, t, values):
    out = [_head(4, len(values) + 1)]
    for record in senml_records(node, seq, t, values):
        out.append(_head(5, len(record)))
        out.extend(cbor(label) + cbor(value) for label, value in record)
    return b"".join(out)


def _json_string(text):
    """RFC 8259 §7: quote, backslash and control characters escaped; the rest as UTF-8."""
    out = []
    for c in text:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def senml_json(node, seq, t, values):
    """RFC 8428 §5: the pack with labels bn, bt, n, u, v; t with three decimals and values
    with one, written by hand (no float repr, which differs between ports)."""
    records = []
    for sensor, value in values:
        fields = []
        if not records:
            fields.append('"bn":%s,"bt":%.3f' % (_json_string(node + "/"), t))
        fields.append('"n":%s' % _json_string(sensor))
        unit = UNITS.get(sensor)
        if unit:
            fields.append('"u":%s' % _json_string(unit))
        fields.append('"v":%.1f' % value)
        records.append("{" + ",".join(fields) + "}")
    records.append('{"n":"seq","v":%d}' % seq)
    return ("[" + ",".join(records) + "]").encode()


# --- XEP-0323 and text -------------------------------------------------------------------


def xml_escape(text):
    """Text or an attribute value for XML (quotes too: attributes are quoted with ')."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


def iso8601(t):
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SS.mmmZ' (UTC; XEP-0082 DateTime)."""
    seconds = int(t)
    ms = min(int((t - seconds) * 1000), 999)
    tm = time.gmtime(seconds)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (tm[0], tm[1], tm[2], tm[3], tm[4], tm[5], ms)


# XEP-0323 §3 (sensor data "fields"), compact: momentary numeric values of one node
def xep0323(node, seq, t, values):
    numerics = "".join(
        "<numeric name='%s' value='%s' unit='%s' momentary='true'/>"
        % (xml_escape(s), "%.1f" % v, xml_escape(UNITS.get(s, ""))) for s, v in values)
    return ("<fields xmlns='%s' seqnr='%d'><node nodeId='%s'><timestamp value='%s'>%s"
            "</timestamp></node></fields>"
            % (NS_SENSORDATA, seq, xml_escape(node), iso8601(t), numerics)).encode()


def text(node, seq, t, values):
    """The plain form of one sensor's reading (the first of `values`)."""
    return ("seq=%d t=%.3f v=%.1f" % (seq, t, values[0][1])).encode()


ENCODERS = {"senml-json": senml_json, "senml-cbor": senml_cbor, "xep0323": xep0323,
            "text": text}


def encode(fmt, node, seq, t, values):
    """The application bytes of one reading in `fmt` (one of FORMATS)."""
    return ENCODERS[fmt](node, seq, t, values)
