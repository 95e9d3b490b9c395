"""Deterministic calls into the nodes' pure modules, one line of hex per result.

Runs unchanged on CPython and on MicroPython (test_on_micropython.py runs it on both and
compares the lines): encoders, parsers and SASL as the node apps use them, no sockets, no
clock. Kept to what MicroPython has (binascii, no f-strings with format specs it lacks).
"""

import binascii

import backoff
import coap
import dnsmsg
import reading
import scram
import stanzas
import stream_management
import xmltok


def show(label, data):
    if isinstance(data, str):
        data = data.encode()
    print(label, binascii.hexlify(bytes(data)).decode())


T = 1795671609.618
CASES = (("s1", 3, T, [("temperature", 22.5)]),
         ("n-7", 65536, 1700000000.0, [("humidity", 40.1), ("wind", 3.0)]),
         ("<&'\">", 0, 0.001, [("pressure", 29.9)]))
for fmt in reading.FORMATS:
    for i, (node, seq, t, values) in enumerate(CASES):
        show("reading %s %d" % (fmt, i), reading.encode(fmt, node, seq, t, values))
        show("payload %s %d" % (fmt, i), stanzas.payload(fmt, node, seq, t, values))
show("values", ",".join("%.1f" % reading.reading_value("s%d" % i, "temperature", i * 13, 7)
                        for i in range(20)))
show("cbor", reading.cbor([0, 23, 24, -25, 1000, 2 ** 40, -(2 ** 33), "a", b"\x00", {},
                           22.5, 1.1, -0.0, None, True, False, {1: [2, {"k": "v"}]}]))

message = coap.Message(coap.CON, coap.CONTENT, 0x1234, b"\x5a\x01",
                       [(coap.ETAG, b"\x01\x02\x03\x04"),
                        (coap.OBSERVE, coap.encode_uint(70000)),
                        (coap.CONTENT_FORMAT, coap.encode_uint(coap.SENML_JSON)),
                        (coap.URI_PATH, b"sensors"), (coap.URI_PATH, b"temperature"),
                        (1000, b"x" * 300)], b"payload")
wire = coap.encode(message)
show("coap", wire)
back = coap.decode(wire)
show("coap back", "%d %d %d %s %s %s" % (back.mtype, back.code, back.mid,
                                         binascii.hexlify(back.token).decode(),
                                         ",".join("%d:%s" % (n, binascii.hexlify(v).decode())
                                                  for n, v in back.options),
                                         back.payload.decode()))

sasl = scram.ScramSha1("user", "pencil", "fyko+d2lbbFgONRv9qkxdawL")
show("scram first", sasl.first())
try:
    import hashlib
except ImportError:
    import uhashlib as hashlib
if hasattr(hashlib, "sha1"):
    show("scram final", sasl.final(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                                   b"s=QSXCR+Q6sek8bf92,i=4096"))
else:  # a port built without SHA-1 (MICROPY_PY_HASHLIB_SHA1): SCRAM-SHA-1 cannot run there
    print("scram final unavailable: no hashlib.sha1")
show("scram plain", scram.plain_message("s1", "p\xe4ss"))

events = []
for item in xmltok.StanzaBuilder().feed(
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        b"xmlns:stream='http://etherx.jabber.org/streams' id='x&amp;1'><iq type='get' id='a'>"
        b"<req xmlns='urn:xmpp:iot:sensordata' seqnr='4'/></iq><message><body>1 &lt; 2"
        b"</body></message></stream:stream>"):
    what = item[1] if len(item) > 1 else None
    if isinstance(what, xmltok.Element):  # dicts print in an order ports need not share
        what = "%s %s %s" % (what.tag, sorted(what.attrs.items()), len(what.children))
    elif isinstance(what, dict):
        what = sorted(what.items())
    events.append(item[0] + ":" + str(what))
show("xmltok", "|".join(events))
show("escape", xmltok.escape("a<b>&'\"") + xmltok.unescape("&lt;&#65;&#x42;&amp;"))

query = dnsmsg.Message(0x2a, 0, questions=[
    dnsmsg.Question(dnsmsg.name_from_text("_xmpp-client._tcp.local"), dnsmsg.PTR, unicast=True)],
    answers=[dnsmsg.Record(dnsmsg.name_from_text("_xmpp-client._tcp.local"), dnsmsg.PTR,
                           dnsmsg.name_from_text("br._xmpp-client._tcp.local"), 4500)])
data = query.encode()
show("dns", data)
show("dns back", repr(dnsmsg.decode(data)))

delays = backoff.Backoff("s1", 7)
show("backoff", ",".join("%.3f" % delays.next_delay() for _ in range(8)))

sm = stream_management.StreamManagement()
sm.enabled(xmltok.Element("enabled", {"id": "s&1", "resume": "true"}))
sm.sent = stream_management.MOD - 2  # the counters wrap at 2^32 (XEP-0198 §4)
for n in range(5):
    sm.counted((n, 0.0, []) if n != 2 else None)
acked = sm.acked(stream_management.MOD - 1)
show("sm", "%s %d %s %s %s" % (sm.resume_id, sm.readings_unacked(), [r[0] for r in acked],
                               stream_management.answer(sm.sent),
                               stream_management.resume(7, sm.resume_id)))
show("sm resumed", ",".join(str(r[0]) for r in sm.resumed(1)) + " %d" % sm.sent)
