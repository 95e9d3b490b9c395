"""An XMPP stream cut into top-level elements (RFC 6120 §4): every byte once, each classified."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from testbed.analysis.xmpp import split_stream

from .frames import assert_tiles

HEADER = b"<?xml version='1.0'?><stream:stream to='iot.testbed' version='1.0' " \
         b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
STANZAS = {
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHMxAHB3</auth>":
        "xmpp-sasl",
    b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>sensor"
    b"</resource></bind></iq>": "xmpp-bind",
    b"<presence/>": "xmpp-presence",
    b"<message to='sink@iot.testbed'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='7'/>"
    b"</message>": "xmpp-message",
    b"<iq type='set' id='p9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node="
    b"'sensors/s1'><item><fields seqnr='9'/></item></publish></pubsub></iq>": "xmpp-pubsub",
    b"<iq type='result' id='p9'/>": "xmpp-iq",
    b" ": "xmpp-keepalive",
    b"<stream:features><mechanisms><mechanism>PLAIN</mechanism></mechanisms>"
    b"</stream:features>": "xmpp-stream",
}


def test_a_session_is_split_and_classified() -> None:
    body = b"".join(STANZAS)
    data = HEADER + body + b"</stream:stream>"
    elements = split_stream(data)
    purposes = [e.purpose for e in elements]
    assert purposes == ["xmpp-stream", "xmpp-stream", *STANZAS.values(), "xmpp-stream"]
    message = elements[2 + list(STANZAS.values()).index("xmpp-message")]
    assert message.seqnr == 7
    pubsub = elements[2 + list(STANZAS.values()).index("xmpp-pubsub")]
    assert (pubsub.seqnr, pubsub.id) == (9, "p9")


def test_after_starttls_the_rest_is_tls() -> None:
    client = HEADER + b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" \
        + b"\x16\x03\x01\x00\x05hello" + b"\x17\x03\x03\x00\x02ab" + b"\x17\x03"
    elements = split_stream(client)
    assert [e.purpose for e in elements] == ["xmpp-stream", "xmpp-stream", "xmpp-tls"] + [
        "xmpp-tls"] * 3
    assert all(e.name == "#tls" for e in elements[3:]) and elements[-1].end == len(client)
    assert [e.record for e in elements[3:]] == [22, 23, None]  # one per record, then a cut one


@given(st.lists(st.sampled_from(list(STANZAS)), max_size=12), st.integers(0, 400))
def test_every_byte_in_exactly_one_element(stanzas: list[bytes], cut: int) -> None:
    data = (HEADER + b"".join(stanzas))[:cut + len(HEADER) // 2]  # also a stream cut short
    elements = split_stream(data)
    assert_tiles(elements, len(data))
