"""Hand-built XMPP sessions for the analysis tests (and the capture tests that reuse them):
the sensor SENSOR talks to the cloud's port 5222 through the border router BR."""

from __future__ import annotations

from .frames import CLOUD, Air, address, tcp

SENSOR, BR = 2, 1

HEADER = (b"<?xml version='1.0'?><stream:stream to='iot.testbed' version='1.0' "
          b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
FEATURES = b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
PRESENCE = b"<presence/>"
MESSAGE = (b"<message to='sink@iot.testbed' type='chat'><fields xmlns='urn:xmpp:iot:sensordata'"
           b" seqnr='1'><node nodeId='s2'><timestamp value='2026-11-26T06:04:41Z'><numeric "
           b"name='temperature' momentary='true' value='20.7' unit='Cel'/></timestamp></node>"
           b"</fields></message>")


def xmpp_session(air: Air) -> dict[str, int]:
    """A TCP connection sensor -> cloud:5222; returns the index where each phase starts."""
    c, s = address(SENSOR), CLOUD

    def cs(seq: int, ack: int, flags: str, data: bytes = b"") -> bytes:
        return tcp(c, s, 40000, 5222, seq, ack, flags, data)

    def sc(seq: int, ack: int, flags: str, data: bytes = b"") -> bytes:
        return tcp(s, c, 5222, 40000, seq, ack, flags, data)
    marks = {}
    air.send(cs(100, 0, "S"), SENSOR, BR)
    air.send(sc(500, 101, "SA"), BR, SENSOR)
    air.send(cs(101, 501, "A"), SENSOR, BR)
    air.send(cs(101, 501, "PA", HEADER), SENSOR, BR)
    air.send(sc(501, 101 + len(HEADER), "PA", HEADER + FEATURES), BR, SENSOR)
    at = 101 + len(HEADER)
    air.send(cs(at, 501 + len(HEADER + FEATURES), "PA", PRESENCE), SENSOR, BR)
    at += len(PRESENCE)
    marks["reading"] = len(air.frames)
    air.send(cs(at, 501 + len(HEADER + FEATURES), "PA", MESSAGE), SENSOR, BR, retry=1)
    air.send(sc(501 + len(HEADER + FEATURES), at + len(MESSAGE), "A"), BR, SENSOR)
    marks["retransmission"] = len(air.frames)
    air.send(cs(at, 501 + len(HEADER + FEATURES), "PA", MESSAGE), SENSOR, BR)
    marks["teardown"] = len(air.frames)
    air.send(cs(at + len(MESSAGE), 501 + len(HEADER + FEATURES), "FA"), SENSOR, BR)
    return marks


STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def record(content_type: int, length: int, version: bytes = b"\x03\x03") -> bytes:
    """A TLS record (RFC 8446 §5.1) with a stand-in body: only the framing matters here."""
    return bytes((content_type,)) + version + length.to_bytes(2, "big") + bytes(
        (i * 7 + content_type) & 0xFF for i in range(length))


def tls_session(air: Air) -> dict[str, int]:
    """sensor -> cloud:5222 with STARTTLS; returns the frame index where each phase starts."""
    c, s = address(SENSOR), CLOUD
    at = {"c": 101, "s": 501}
    marks = {}

    def send(frm: str, data: bytes = b"", flags: str = "PA") -> None:
        if frm == "c":
            air.send(tcp(c, s, 40000, 5222, at["c"], at["s"], flags, data), SENSOR, BR)
        else:
            air.send(tcp(s, c, 5222, 40000, at["s"], at["c"], flags, data), BR, SENSOR)
        at[frm] += len(data)

    air.send(tcp(c, s, 40000, 5222, 100, 0, "S"), SENSOR, BR)
    air.send(tcp(s, c, 5222, 40000, 500, 101, "SA"), BR, SENSOR)
    send("c", flags="A")
    send("c", HEADER + STARTTLS)
    send("s", HEADER + PROCEED)
    send("c", record(22, 60, b"\x03\x01"))  # ClientHello
    send("s", record(22, 90) + record(20, 1) + record(23, 40))  # ServerHello .. Finished
    send("c", record(20, 1) + record(23, 30))  # the client's Finished
    send("c", record(23, 80))  # restarted stream, SASL, bind (all encrypted)
    send("s", record(23, 70))
    marks["presence"] = len(air.frames)
    send("c", record(23, 28))  # the presence: still on its way when reading 1 is taken
    marks["reading1"] = len(air.frames)
    send("c", record(23, 140))
    send("s", flags="A")  # the TCP ACK answering reading 1
    marks["keepalive"] = len(air.frames)
    send("c", record(23, 18))  # a whitespace keepalive: one encrypted byte
    send("s", flags="A")
    marks["reading2"] = len(air.frames)
    send("c", record(23, 141))
    send("s", flags="A")
    marks["close"] = len(air.frames)
    send("c", record(23, 33) + record(21, 19))  # </stream:stream>, close_notify
    send("c", flags="FA")
    return marks


def presence_and_reading(air: Air, hops: list[tuple[int, int]], *, repeat: bool = False,
                         lost_on: tuple[int, int] | None = None) -> None:
    """sensor -> cloud:5222 over `hops`; the presence and reading 1 leave in one segment
    (Nagle), sent again when `repeat`; the header segment is not heard on hop `lost_on`."""
    c, s = address(SENSOR), CLOUD
    at = 101 + len(HEADER)
    segments = [tcp(c, s, 40000, 5222, 100, 0, "S"),
                tcp(c, s, 40000, 5222, 101, 501, "PA", HEADER),
                tcp(c, s, 40000, 5222, at, 501, "PA", PRESENCE + MESSAGE)]
    if repeat:
        segments.append(segments[-1])
    for i, segment in enumerate(segments):
        for hop in hops:
            if not (i == 1 and hop == lost_on):
                air.send(segment, *hop)
