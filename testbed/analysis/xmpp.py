"""An XMPP byte stream cut into its top-level pieces, each classified (RFC 6120 §4, §8).

What it is: `split_stream(data)` walks one direction of a client-server TCP stream and
returns `Element`s covering every byte exactly once: the XML declaration and stream header,
each first-level child of the stream (features, SASL, stanzas), whitespace keepalives
(RFC 6120 §4.6.1), the closing tag, and, after a STARTTLS <proceed/>, the opaque TLS bytes,
one element (named "#tls") per TLS record (tls.py), `record` its content type.
Each has a purpose (xmpp-stream, xmpp-tls, xmpp-sasl, xmpp-bind, xmpp-presence,
xmpp-message, xmpp-pubsub, xmpp-iq, xmpp-keepalive, xmpp-other), the reading it carries
(readings.reading_seq: SenML, XEP-0323 seqnr, text) and its stanza id. What it is not: an
XML parser (no entity or namespace resolution; the sensors' stanzas need none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from testbed.analysis import tls
from testbed.analysis.readings import reading_seq

XMPP_CLIENT_PORT = 5222
XMPP_LINK_LOCAL_PORT = 5562  # XEP-0174 §4.1: serverless streams (IANA "presence")
#: the ports a stream's initiator connects to: client-to-server and link-local
XMPP_PORTS = (XMPP_CLIENT_PORT, XMPP_LINK_LOCAL_PORT)

_NAME = re.compile(rb"<\s*/?\s*([A-Za-z_][\w.:-]*)")
_ID = re.compile(rb"""^<[^>]*?\sid\s*=\s*["']([^"']*)["']""")
_SASL = {b"auth", b"challenge", b"response", b"success", b"failure", b"abort"}


@dataclass(frozen=True, slots=True)
class Element:
    start: int  # offset in the stream
    end: int
    purpose: str
    name: str
    seqnr: int | None = None
    id: str | None = None
    record: int | None = None  # TLS content type (RFC 8446 §5.1) of a "#tls" element


def _classify(name: bytes, body: bytes) -> str:
    local = name.split(b":")[-1]
    if name in (b"stream:stream", b"stream:features", b"stream:error", b"?xml") or \
            local in (b"stream", b"features"):
        return "xmpp-stream"
    if local in (b"starttls", b"proceed"):
        return "xmpp-tls"
    if local in _SASL:
        return "xmpp-sasl"
    if local == b"presence":
        return "xmpp-presence"
    if local == b"message":
        return "xmpp-message"
    if local == b"iq":
        if b"<bind" in body or b"<session" in body:
            return "xmpp-bind"
        if b"<pubsub" in body:
            return "xmpp-pubsub"
        return "xmpp-iq"
    return "xmpp-other"


def _element(data: bytes, start: int, end: int, name: bytes, purpose: str | None = None
             ) -> Element:
    body = data[start:end]
    seqnr = reading_seq(body)
    ident = _ID.search(body)
    return Element(start, end, purpose or _classify(name, body), name.decode("ascii", "replace"),
                   seqnr,
                   ident[1].decode("utf-8", "replace") if ident else None)


# RFC 6120 §4.2 (stream header), §4.6.1 (whitespace keepalive), §5.4.2.3 (proceed -> TLS)
def split_stream(data: bytes) -> list[Element]:
    """Every byte of one stream direction in exactly one Element, in stream order."""
    out: list[Element] = []
    pos = 0
    depth = 0  # 0 before the stream header, 1 inside <stream:stream>
    start = 0
    n = len(data)
    while pos < n:
        if depth == 1 and data[pos] != 0x3C:  # text between first-level elements
            nxt = data.find(b"<", pos)
            nxt = n if nxt < 0 else nxt
            out.append(Element(pos, nxt, "xmpp-keepalive" if not data[pos:nxt].strip()
                               else "xmpp-other", "#text"))
            pos = nxt
            continue
        lt = data.find(b"<", pos)
        if lt < 0:
            out.append(Element(pos, n, "xmpp-other", "#text"))
            break
        start = pos
        if data.startswith(b"<?", lt):
            gt = data.find(b"?>", lt)
            end = n if gt < 0 else gt + 2
            out.append(Element(start, end, "xmpp-stream", "?xml"))
            pos = end
            continue
        match = _NAME.match(data, lt)
        if match is None:
            out.append(Element(start, n, "xmpp-other", "#garbage"))
            break
        name = match[1]
        if data[lt + 1:lt + 2] == b"/":  # </stream:stream> at the top
            gt = data.find(b">", lt)
            end = n if gt < 0 else gt + 1
            out.append(Element(start, end, "xmpp-stream", name.decode("ascii", "replace")))
            depth = 0
            pos = end
            continue
        if name == b"stream:stream" or name.endswith(b":stream") or name == b"stream":
            gt = data.find(b">", lt)
            end = n if gt < 0 else gt + 1
            out.append(_element(data, start, end, name, "xmpp-stream"))
            depth = 1
            pos = end
            continue
        end = _element_end(data, lt)
        element = _element(data, start, end, name)
        out.append(element)
        pos = end
        if element.name.split(":")[-1] in ("proceed", "starttls") and pos < n:
            # RFC 6120 §5.4.3.3: TLS from here, record by record
            out.extend(Element(r.start, r.end, "xmpp-tls", "#tls", record=r.content_type)
                       for r in tls.split_records(data, pos, n))
            break
    return out


def _element_end(data: bytes, lt: int) -> int:
    """Offset just past the element whose start tag begins at `lt` (or the end of data)."""
    depth = 0
    pos = lt
    n = len(data)
    while pos < n:
        gt = data.find(b">", pos)
        if gt < 0:
            return n
        tag = data[pos:gt + 1]
        if tag.startswith(b"</"):
            depth -= 1
        elif not (tag.endswith(b"/>") or tag.startswith(b"<?") or tag.startswith(b"<!")):
            depth += 1
        if depth == 0:
            return gt + 1
        nxt = data.find(b"<", gt + 1)
        if nxt < 0:
            return n
        pos = nxt
    return n

