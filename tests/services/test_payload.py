"""services/payload.py: the sinks' decoders against the nodes' encoder (nodes/common/reading.py)
and against hand-made and malformed payloads."""

from __future__ import annotations

import base64
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.services.coap_sink import parse_reading
from testbed.services.payload import (
    CONTENT_FORMATS,
    FORMATS,
    Reading,
    find_element,
    parse,
    parse_element,
)

NODES = Path(__file__).resolve().parents[2] / "nodes"
sys.path.insert(0, str(NODES / "xmpp-sensor"))
import reading as node_reading  # noqa: E402  (nodes/common/reading.py, linked into the app)
import stanzas  # noqa: E402

names = st.text(alphabet=st.characters(min_codepoint=0x21, blacklist_categories=("Cs",),
                                       blacklist_characters="/"), min_size=1, max_size=10)


@given(st.sampled_from(FORMATS), names, st.integers(1, 10**6), st.floats(1e8, 4e9),
       st.integers(0, 999))
def test_what_a_node_encodes_the_sinks_read_back(fmt, node, seq, t, tenths):
    """Every format, both carriers: the CoAP payload (by Content-Format) and the XMPP payload
    element give the same reading, to the precision the format carries."""
    value = tenths / 10
    data = node_reading.encode(fmt, node, seq, t, [("temperature", value)])
    coap = parse_reading(data, CONTENT_FORMATS[fmt], "temperature")
    [xmpp] = parse_element(ET.fromstring(stanzas.payload(fmt, node, seq, t,
                                                         [("temperature", value)])))
    assert coap.seq == xmpp.seq == seq and coap.value == xmpp.value == value
    assert coap.sensor == xmpp.sensor == "temperature"
    assert abs(coap.t - t) <= 0.0011 and coap.t == pytest.approx(xmpp.t, abs=0.0011)
    if fmt != "text":  # text names no node
        assert coap.node == xmpp.node == node


def test_text_readings_parse_back():
    assert parse("text", b"seq=4 t=100.250 v=22.5", sensor="temperature") == [
        Reading(4, 100.25, "temperature", 22.5)]


def test_senml_record_time_adds_to_base_time():
    pack = [{-3: 100.0, 0: "s1/seq", 2: 3}, {0: "s1/temperature", 6: 2.5, 2: 21.0}]
    assert parse_reading(cbor2.dumps(pack), 112, "temperature") == Reading(
        3, 102.5, "temperature", 21.0, "s1")


def test_senml_json_labels_by_name():
    data = b'[{"bn":"n4/","bt":10,"n":"temperature","v":20.5},{"n":"seq","v":2}]'
    assert parse("senml-json", data) == [Reading(2, 10.0, "temperature", 20.5, "n4")]


def test_a_payload_element_is_found_among_a_stanzas_children():
    message = ET.fromstring("<message xmlns='jabber:client'><body>hi</body>"
                            + stanzas.payload("senml-cbor", "s1", 1, 5.0, [("temperature", 21.0)])
                            + "</message>")
    element = find_element(message)
    assert element is not None and element.tag.endswith("}cbor")
    assert cbor2.loads(base64.b64decode(element.text))[1] == {0: "seq", 2: 1}
    assert find_element(ET.fromstring("<message xmlns='jabber:client'/>")) is None


@pytest.mark.parametrize("payload, fmt", [
    (b"22.5 C", 0), (b"seq=x t=1 v=2", 0), (cbor2.dumps({"a": 1}), 112),
    (cbor2.dumps([{0: "temperature", 2: 1.0}]), 112), (cbor2.dumps([{0: 5, 2: 1.0}]), 112),
    (cbor2.dumps([{0: "seq"}]), 112), (b"\xff\x00", 112), (b"[1,", 110), (b'{"n":1}', 110),
    (b"<fields", 41), (b"<x/>", 41), (b"seq=1 t=2 v=3", 999),
])
def test_unparsable_payloads_are_refused(payload, fmt):
    with pytest.raises(ValueError):
        parse_reading(payload, fmt, "temperature")


@pytest.mark.parametrize("pack", [
    [{-2: [], 0: []}],  # fuzz_parsers.py: a list name has no rpartition (AttributeError)
    [{0: "seq", 2: 1}, {0: "temperature", 2: 10**400}],  # float() overflow
    [{0: "seq", 2: float("inf")}, {0: "temperature", 2: 1.0}],  # int() overflow
    [{0: "seq", 2: 1}, {-3: [], 0: "temperature", 2: 1.0, 6: []}],  # a list time
])
def test_senml_records_of_the_wrong_cbor_types_are_refused(pack):
    with pytest.raises(ValueError, match="malformed SenML record"):
        parse_reading(cbor2.dumps(pack), 112, "temperature")


def test_a_cbor_element_that_is_not_base64_is_refused():
    with pytest.raises(ValueError, match="base64"):
        parse_element(ET.fromstring("<cbor xmlns='urn:xmpp:testbed:payload:0'>**</cbor>"))
