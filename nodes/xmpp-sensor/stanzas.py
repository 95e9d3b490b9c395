"""Stanza builders for the sensor (strings, compact: single quotes, no needless attributes).

The sensor payload is shaped like XEP-0323 (Internet of Things - Sensor Data) <fields/>:
    <fields xmlns='urn:xmpp:iot:sensordata' seqnr='3'><node nodeId='s1'>
      <timestamp value='2026-11-26T05:38:45.123Z'><numeric name='temperature' value='22.5'
      unit='Cel' momentary='true'/></timestamp></node></fields>
The timestamp carries the node's epoch time to the millisecond, so the sink can compute latency.
"""

import time

from xmltok import escape

NS_STREAM = "http://etherx.jabber.org/streams"
NS_CLIENT = "jabber:client"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_PING = "urn:xmpp:ping"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_SENSORDATA = "urn:xmpp:iot:sensordata"

UNITS = {"temperature": "Cel", "humidity": "%RH", "pressure": "hPa", "light": "lx"}


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


def iso8601(t):
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SS.mmmZ' (UTC; XEP-0082 DateTime)."""
    seconds = int(t)
    ms = int((t - seconds) * 1000)
    ms = min(ms, 999)
    tm = time.gmtime(seconds)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (tm[0], tm[1], tm[2], tm[3], tm[4], tm[5], ms)


# XEP-0323 §3 (sensor data "fields"), compact: momentary numeric values of one node
def fields(node_id, seq, t, values):
    """`values` = [(sensor, value)]."""
    numerics = "".join(
        "<numeric name='%s' value='%s' unit='%s' momentary='true'/>"
        % (q(s), q(v), q(UNITS.get(s, "")))
        for s, v in values
    )
    return (
        "<fields xmlns='%s' seqnr='%d'><node nodeId='%s'><timestamp value='%s'>%s"
        "</timestamp></node></fields>"
        % (
            NS_SENSORDATA,
            seq,
            q(node_id),
            iso8601(t),
            numerics,
        )
    )


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


def reading_value(name, sensor, seq, seed):
    """The value a node reports: deterministic in (name, sensor, seq, seed) so sinks can check it.

    20.0 + (a small hash of the inputs mod 100) / 10, one decimal: 20.0 .. 29.9.
    """
    h = seed * 1000003
    for c in (name + "/" + sensor).encode():
        h = (h * 31 + c) % 1000000007
    h = (h + seq * 7919) % 1000000007
    return (200 + h % 100) / 10
