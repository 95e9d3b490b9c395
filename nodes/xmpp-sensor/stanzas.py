"""Stanza builders for the sensor (strings, compact: single quotes, no needless attributes).

A reading travels as one payload element (`payload`), in the format the run chose
(reading.py makes the application bytes, the same a CoAP node sends):
  senml-json  <json xmlns='urn:xmpp:json:0'>[...]</json>  (XEP-0335 JSON container)
  senml-cbor  <cbor xmlns='urn:xmpp:testbed:payload:0'>base64</cbor>
  xep0323     <fields xmlns='urn:xmpp:iot:sensordata' seqnr='3'>...</fields>  (XEP-0323)
  text        <text xmlns='urn:xmpp:testbed:payload:0' n='temperature'>seq=3 t=... v=22.5</text>
The node's epoch time travels in the payload to the millisecond, so the sink can compute latency.
"""

import reading
from xmltok import escape

NS_STREAM = "http://etherx.jabber.org/streams"
NS_CLIENT = "jabber:client"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_PING = "urn:xmpp:ping"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_SENSORDATA = reading.NS_SENSORDATA
NS_JSON = "urn:xmpp:json:0"  # XEP-0335
NS_PAYLOAD = "urn:xmpp:testbed:payload:0"  # the testbed's own: CBOR as base64, text


def q(value):
    return escape(str(value))


# RFC 6120 §4.7: stream header (text declaration per §11.5, then the opening tag)
def stream_header(domain):
    return (
        "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en' "
        "xmlns='%s' xmlns:stream='%s'>" % (q(domain), NS_CLIENT, NS_STREAM)
    )


# XEP-0174 §4.1: a link-local stream names both ends by their DNS-SD instance names
def link_local_header(local, remote):
    return (
        "<?xml version='1.0'?><stream:stream from='%s' to='%s' version='1.0' "
        "xmlns='%s' xmlns:stream='%s'>" % (q(local), q(remote), NS_CLIENT, NS_STREAM)
    )


STREAM_CLOSE = "</stream:stream>"


# RFC 6120 §5.4.2.1: STARTTLS command
def starttls():
    return "<starttls xmlns='%s'/>" % NS_TLS


# RFC 6120 §6.4.2: SASL auth with initial response (base64)
def sasl_auth(mechanism, initial_b64):
    return "<auth xmlns='%s' mechanism='%s'>%s</auth>" % (NS_SASL, q(mechanism), initial_b64)


# RFC 6120 §6.4.3: SASL response to a challenge
def sasl_response(data_b64):
    return "<response xmlns='%s'>%s</response>" % (NS_SASL, data_b64)


# RFC 6120 §7.6: resource binding request
def bind(resource, iq_id="b"):
    return "<iq type='set' id='%s'><bind xmlns='%s'><resource>%s</resource></bind></iq>" % (
        q(iq_id),
        NS_BIND,
        q(resource),
    )


# RFC 6121 §4.2 initial presence; §4.6 directed presence when `to` is given
def presence(to=None):
    if to:
        return "<presence to='%s'/>" % q(to)
    return "<presence/>"


def text_escape(text):
    """Character data: only & < > need escaping there (the JSON's quotes stay as they are)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(fmt, node, seq, t, values):
    """The payload element of one reading in `fmt` (reading.FORMATS); `values` = [(sensor,
    value)]."""
    data = reading.encode(fmt, node, seq, t, values)
    if fmt == "senml-json":
        return "<json xmlns='%s'>%s</json>" % (NS_JSON, text_escape(data.decode()))
    if fmt == "senml-cbor":
        import binascii  # here: a port without it still sends the other formats

        b64 = binascii.b2a_base64(data).strip().decode()
        return "<cbor xmlns='%s'>%s</cbor>" % (NS_PAYLOAD, b64)
    if fmt == "text":
        return "<text xmlns='%s' n='%s'>%s</text>" % (NS_PAYLOAD, q(values[0][0]),
                                                      text_escape(data.decode()))
    return data.decode()  # xep0323: the element itself


# RFC 6121 §5: a message carrying the payload to the sink
def message(to, payload):
    return "<message to='%s'>%s</message>" % (q(to), payload)


# XEP-0060 §7.1.1: publish an item to a node
def publish(service, node, item_id, payload, iq_id):
    return (
        "<iq type='set' to='%s' id='%s'><pubsub xmlns='%s'><publish node='%s'>"
        "<item id='%s'>%s</item></publish></pubsub></iq>"
        % (q(service), q(iq_id), NS_PUBSUB, q(node), q(item_id), payload)
    )


# RFC 6120 §8.2.3: IQ result (with an optional child)
def iq_result(to, iq_id, child=""):
    to_attr = " to='%s'" % q(to) if to else ""
    if child:
        return "<iq type='result'%s id='%s'>%s</iq>" % (to_attr, q(iq_id), child)
    return "<iq type='result'%s id='%s'/>" % (to_attr, q(iq_id))


# RFC 6120 §8.3.3.19 + §8.4: service-unavailable for an IQ we do not handle
def iq_error_unavailable(to, iq_id):
    to_attr = " to='%s'" % q(to) if to else ""
    return (
        "<iq type='error'%s id='%s'><error type='cancel'>"
        "<service-unavailable xmlns='%s'/></error></iq>" % (to_attr, q(iq_id), NS_STANZAS)
    )
