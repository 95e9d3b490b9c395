"""Stanza builders: well-formed XML (ElementTree parses them), the payload elements, their sizes."""

from __future__ import annotations

import base64
import calendar
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import reading
import stanzas

T = 1795671609.618  # a node time with milliseconds
SD = "{urn:xmpp:iot:sensordata}"
PAYLOAD = stanzas.payload("xep0323", "s1", 3, T, [("temperature", 22.5)])


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_fields_payload_has_the_xep_0323_shape() -> None:
    fields = parse(PAYLOAD)
    assert fields.tag == SD + "fields" and fields.get("seqnr") == "3"
    node = fields.find(SD + "node")
    stamp = node.find(SD + "timestamp")
    numeric = stamp.find(SD + "numeric")
    assert node.get("nodeId") == "s1"
    assert stamp.get("value") == "2026-11-26T05:40:09.618Z"
    assert numeric.attrib == {
        "name": "temperature",
        "value": "22.5",
        "unit": "Cel",
        "momentary": "true",
    }


@given(st.floats(min_value=0, max_value=4e9))
def test_timestamp_keeps_the_millisecond(t: float) -> None:
    text = reading.iso8601(t)
    whole, ms = text.rstrip("Z").split(".")
    back = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000
    assert 0 <= t - back < 0.0011


def test_every_stanza_is_well_formed() -> None:
    header = stanzas.stream_header("iot.testbed")
    parse(header + stanzas.STREAM_CLOSE)
    for stanza in (
        stanzas.starttls(),
        stanzas.sasl_auth("PLAIN", "AHMxAHB3"),
        stanzas.sasl_response("Yz1iaXdz"),
        stanzas.bind("sensor"),
        stanzas.presence(),
        stanzas.presence("sink@iot.testbed"),
        stanzas.message("sink@iot.testbed", PAYLOAD),
        stanzas.publish("pubsub.iot.testbed", "sensors/s1", "3", PAYLOAD, "p3"),
        stanzas.iq_result("sink@iot.testbed/sink", "x1", PAYLOAD),
        stanzas.iq_result("sink@iot.testbed/sink", "x1"),
        *(stanzas.message("sink@iot.testbed", stanzas.payload(fmt, "s1", 3, T,
                                                              [("temperature", 22.5)]))
          for fmt in reading.FORMATS),
        stanzas.iq_error_unavailable("sink@iot.testbed/sink", "x2"),
    ):
        parse(stanza)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30))
def test_untrusted_strings_are_escaped(text: str) -> None:
    element = parse(stanzas.message(text, stanzas.payload("xep0323", text, 1, T, [(text, 1.5)])))
    assert element.get("to") == text
    assert element.find(SD + "fields").find(SD + "node").get("nodeId") == text


def test_publish_is_an_xep_0060_publish() -> None:
    iq = parse(stanzas.publish("pubsub.iot.testbed", "sensors/s1", "3", PAYLOAD, "p3"))
    publish = iq.find(
        "{http://jabber.org/protocol/pubsub}pubsub/{http://jabber.org/protocol/pubsub}publish"
    )
    assert iq.get("type") == "set" and publish.get("node") == "sensors/s1"
    assert publish.find("{http://jabber.org/protocol/pubsub}item").get("id") == "3"


def test_sizes() -> None:
    """The byte counts the report quotes: an application-layer budget for one reading."""
    sizes = {
        "stream header": len(stanzas.stream_header("iot.testbed")),
        "fields": len(PAYLOAD),
        "message": len(stanzas.message("sink@iot.testbed", PAYLOAD)),
        "publish": len(stanzas.publish("pubsub.iot.testbed", "sensors/s1", "3", PAYLOAD, "p3")),
        "iq result": len(stanzas.iq_result("sink@iot.testbed/sink", "x1", PAYLOAD)),
    }
    assert sizes == {
        "stream header": 151,
        "fields": 210,
        "message": 251,
        "publish": 378,
        "iq result": 268,
    }
    # the envelope around the payload, counted by hand: <message to='sink@iot.testbed'> + </message>
    assert sizes["message"] - sizes["fields"] == 31 + 10


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
       st.sampled_from(reading.FORMATS))
def test_every_payload_element_carries_the_application_bytes(node: str, fmt: str) -> None:
    """What the element holds, once XML is undone (and base64 for CBOR), is byte for byte
    what a CoAP node sends for the same reading: the comparison's payloads are equal."""
    if "\x00" in node or any(ord(c) < 0x20 and c not in "\t\n\r" for c in node):
        return  # not representable in XML 1.0 at all (RFC 6120 §11.1 forbids them)
    data = reading.encode(fmt, node, 3, T, [("temperature", 22.5)])
    element = parse(stanzas.payload(fmt, node, 3, T, [("temperature", 22.5)]))
    if fmt == "xep0323":
        assert element.tag == SD + "fields" and parse(data.decode()).attrib == element.attrib
    elif fmt == "senml-cbor":
        assert base64.b64decode(element.text) == data
    else:
        assert element.text.replace("\r\n", "\n") == data.decode().replace("\r\n", "\n")
