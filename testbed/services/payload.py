"""Reading payloads as the sinks receive them, in every format a run can choose (`--payload`).

The node apps write them with nodes/common/reading.py; this side reads them with independent
decoders (json, cbor2, ElementTree), so an encoder defect shows up as a reading that does not
parse. A CoAP response carries the application bytes with a Content-Format; an XMPP stanza
carries one payload element (nodes/xmpp-sensor/stanzas.py payload):
  senml-json  <json xmlns='urn:xmpp:json:0'>   (XEP-0335)     CoAP 110 (RFC 8428 §12.3)
  senml-cbor  <cbor xmlns='urn:xmpp:testbed:payload:0'> base64  CoAP 112
  xep0323     <fields xmlns='urn:xmpp:iot:sensordata'>          CoAP 41 (application/xml)
  text        <text xmlns='urn:xmpp:testbed:payload:0' n=sensor>  CoAP 0
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

FORMATS = ("senml-json", "senml-cbor", "xep0323", "text")
DEFAULT_FORMAT = "senml-json"
# RFC 7252 §12.3 and RFC 8428 §12.3 Content-Format numbers
CONTENT_FORMATS = {"text": 0, "xep0323": 41, "senml-json": 110, "senml-cbor": 112}
FORMAT_OF_CONTENT = {number: name for name, number in CONTENT_FORMATS.items()}

NS_SENSORDATA = "urn:xmpp:iot:sensordata"
NS_JSON = "urn:xmpp:json:0"
NS_PAYLOAD = "urn:xmpp:testbed:payload:0"
ELEMENTS = {
    f"{{{NS_JSON}}}json": "senml-json",
    f"{{{NS_PAYLOAD}}}cbor": "senml-cbor",
    f"{{{NS_SENSORDATA}}}fields": "xep0323",
    f"{{{NS_PAYLOAD}}}text": "text",
}
# RFC 8428 §6 CBOR labels and §5 JSON labels of the fields read here
CBOR_LABELS = {-2: "bn", -3: "bt", 0: "n", 2: "v", 6: "t"}
TEXT_READING = re.compile(r"^seq=(\d+) t=(-?[\d.]+) v=(-?[\d.]+)$")


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor's value in a payload: sequence number, node time (epoch s), value, and the
    node the payload names itself (SenML base name, XEP-0323 nodeId; None for text)."""

    seq: int
    t: float
    sensor: str | None
    value: float
    node: str | None = None


def parse(fmt: str, data: bytes, *, sensor: str | None = None) -> list[Reading]:
    """The readings in application bytes `data` of format `fmt`. `sensor` names the reading
    of a text payload (which carries no name). Raises ValueError on anything malformed."""
    if fmt == "senml-json":
        try:
            pack = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"not JSON: {error}") from error
        return parse_senml(pack)
    if fmt == "senml-cbor":
        try:
            pack = cbor2.loads(data)
        except cbor2.CBORError as error:  # not a ValueError in cbor2
            raise ValueError(f"not CBOR: {error}") from error
        if isinstance(pack, list):
            pack = [{CBOR_LABELS.get(k, k): v for k, v in r.items()} if isinstance(r, dict)
                    else r for r in pack]
        return parse_senml(pack)
    if fmt == "xep0323":
        try:
            return parse_fields(ET.fromstring(data))
        except ET.ParseError as error:
            raise ValueError(f"not XML: {error}") from error
    if fmt == "text":
        match = TEXT_READING.match(data.decode("utf-8", errors="replace").strip())
        if match is None:
            raise ValueError(f"not a text reading: {data[:60]!r}")
        return [Reading(int(match[1]), float(match[2]), sensor, float(match[3]))]
    raise ValueError(f"unknown payload format {fmt!r}")


# RFC 8428 §4.6: resolve base name and base time; the pack holds the measurements and a
# "seq" record
def parse_senml(pack: Any) -> list[Reading]:
    if not isinstance(pack, list) or not all(isinstance(r, Mapping) for r in pack):
        raise ValueError("SenML pack is not an array of maps")
    base_name, base_time = "", 0.0
    seq, found = None, []
    try:
        for record in pack:
            base_name = record.get("bn", base_name)
            base_time = record.get("bt", base_time)
            name = base_name + record.get("n", "")
            node, _, leaf = name.rpartition("/")  # the name below the node's base name
            if leaf == "seq":
                seq = int(record["v"])
            elif "v" in record:
                t = float(base_time + record.get("t", 0.0))
                found.append((t, leaf, float(record["v"]), node or None))
    # a name or time of another type (a list has no rpartition), a number beyond float
    except (KeyError, TypeError, AttributeError, OverflowError) as error:
        raise ValueError(f"malformed SenML record: {error!r}") from error
    if seq is None or not found:
        raise ValueError(f"SenML pack lacks seq or a value: {pack!r}")
    return [Reading(seq, t, leaf, value, node) for t, leaf, value, node in found]


def parse_timestamp(value: str) -> float:
    """XEP-0082 DateTime 'YYYY-MM-DDTHH:MM:SS[.mmm]Z' -> epoch seconds."""
    value = value.rstrip("Z")
    whole, _, fraction = value.partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float("0." + fraction) if fraction else 0.0)


def parse_fields(fields: ET.Element) -> list[Reading]:
    """One reading per <numeric/> of an XEP-0323 <fields/> element."""
    ns = f"{{{NS_SENSORDATA}}}"
    if fields.tag != f"{ns}fields":
        raise ValueError(f"not an XEP-0323 <fields/>: {fields.tag}")
    seq = int(fields.get("seqnr", "-1"))
    found = []
    for node in fields.findall(f"{ns}node"):
        for stamp in node.findall(f"{ns}timestamp"):
            t_node = parse_timestamp(stamp.get("value", ""))
            for numeric in stamp.findall(f"{ns}numeric"):
                found.append(Reading(seq, t_node, numeric.get("name"),
                                     float(numeric.get("value", "nan")), node.get("nodeId")))
    return found


def find_element(children: Iterable[ET.Element]) -> ET.Element | None:
    """The first payload element among a stanza's (or pubsub item's) children."""
    return next((child for child in children if child.tag in ELEMENTS), None)


def parse_element(element: ET.Element) -> list[Reading]:
    """The readings of an XMPP payload element (find_element)."""
    fmt = ELEMENTS.get(element.tag)
    if fmt == "xep0323":
        return parse_fields(element)
    if fmt == "senml-cbor":
        try:
            data = base64.b64decode(element.text or "", validate=True)
        except binascii.Error as error:
            raise ValueError(f"<cbor/> is not base64: {error}") from error
        return parse(fmt, data)
    if fmt is None:
        raise ValueError(f"not a payload element: {element.tag}")
    return parse(fmt, (element.text or "").encode(), sensor=element.get("n"))
