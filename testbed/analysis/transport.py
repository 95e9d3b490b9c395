"""What each datagram is for: TCP streams, CoAP, mDNS and DNS, ICMPv6, and the readings they carry.

What it is: `Transport.feed(datagram)` (datagrams in completion order) cuts the uncompressed
datagram into regions [start, end) each with a layer (lowpan for inline IPv6 extension
headers, transport, icmpv6, app) and a `Tag` (purpose + which reading, set-up or overhead
the bytes serve). TCP (RFC 9293 §3.4) is followed per direction and hop: handshake, pure
ACKs, FIN/RST and retransmissions (a segment whose sequence range was already sent); the
XMPP byte stream of each direction is cut into elements (xmpp.py) once the capture ends.
CoAP (RFC 7252) confirmable retransmissions (same message ID again) are counted. What it is
not: a TCP implementation (no window or SACK analysis).

Attribution rules: a reading's own bytes carry its sequence number (CoAP payload, XMPP
`seqnr`); what answers them (a CoAP ACK, a TCP pure ACK, an iq result with the same id, a
CoAP GET answered by the reading) follows them. Set-up: for XMPP everything of a connection
up to and including the sensor's initial presence (and the TCP handshake); for CoAP the
Observe registration and /.well-known/core. Everything else is overhead.

After STARTTLS the stanzas are encrypted: with a readings `timeline` (per sensor address, the
sorted (t, seq) of the node's own `reading` events, on the capture's clock) the sensor's TLS
application-data records are attributed by time (`attribute_by_time`), never by content:
`timed` holds the reading buckets found that way. Without one they stay xmpp-tls overhead.
"""

from __future__ import annotations

import bisect
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from testbed.errors import FrameError
from testbed.analysis import coap, tls, xmpp
from testbed.analysis.datagrams import Datagram
from testbed.analysis.readings import reading_seq
from testbed.analysis.layers import ICMPV6, IPV6_HEADER_LENGTH, TCP, UDP, UDP_HEADER_LENGTH, Layer

SETUP = "setup"
OVERHEAD = "overhead"
MDNS_PORT = 5353
DNS_PORT = 53
#: hop-by-hop, routing, fragment, destination options (RFC 8200 §4), mobility (RFC 6275 §6.1)
_EXTENSION_HEADERS = {0, 43, 44, 60, 135}
_FRAGMENT = 44  # RFC 8200 §4.5: always 8 bytes, its second byte is reserved, not a length
_IPV6 = 41  # IPv6-in-IPv6 (RFC 2473)
_ROUTING = 43
_SOURCE_ROUTE = 3  # RFC 6554 §3: RPL's source routing header, routing type 3
_ICMPV6_PURPOSE = {128: "icmpv6-echo", 129: "icmpv6-echo", 133: "icmpv6-rs", 134: "icmpv6-ra",
                   135: "icmpv6-nd", 136: "icmpv6-nd", 137: "icmpv6-redirect",
                   155: "icmpv6-rpl"}  # RFC 6550 §6: RPL control messages (DIO, DAO, ...)
_TCP = struct.Struct(">HHIIBB")

Bucket = tuple  # ("reading", sensor address, seq) | ("setup",) | ("overhead",)


class Tag:
    """Purpose of some bytes and where they count: fixed now, or looked up once all is seen."""

    __slots__ = ("purpose", "_bucket", "_lookup")

    def __init__(self, purpose: str, bucket: Bucket | None = None,
                 lookup: Callable[[], Tag | Bucket | None] | None = None) -> None:
        self.purpose = purpose
        self._bucket = bucket
        self._lookup = lookup

    def bucket(self, depth: int = 0) -> Bucket:
        if self._bucket is None:
            found = self._lookup() if self._lookup is not None and depth < 8 else None
            if isinstance(found, Tag):
                found = found.bucket(depth + 1)
            self._bucket = found or (OVERHEAD,)
            self._lookup = None  # known now; its closure (a stream, the transport) can go
        return self._bucket


@dataclass(slots=True)
class Region:
    start: int
    end: int
    layer: Layer
    tag: Tag | None = None
    stream: _Stream | None = None  # app bytes of a TCP stream: elements decide the tag
    stream_offset: int = 0  # stream offset of `start`
    header: bool = False  # a TCP header: it counts where its segment's first payload byte does
    repeat: bool = False  # stream bytes sent again (TCP retransmission): purpose says so


@dataclass(slots=True, eq=False)
class _Stream:
    """One direction of a TCP connection over one hop."""

    key: tuple
    xmpp_client: bool  # client -> server of an XMPP connection
    xmpp: bool
    sensor: bytes
    isn: int | None = None
    data: bytearray = field(default_factory=bytearray)  # the contiguous stream from offset 0
    pending: dict[int, bytes] = field(default_factory=dict)  # after a gap (a datagram lost)
    fin_at: int | None = None
    times: list[tuple[int, float]] = field(default_factory=list)  # (stream offset, time)
    elements: list[xmpp.Element] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    syn_seen: bool = False
    reverse: _Stream | None = None
    connection: _Connection | None = None

    def add(self, offset: int, payload: bytes, time: float) -> None:
        """Place new payload bytes heard at `time`; bytes after a gap wait until it is filled."""
        self.times.append((offset, time))
        self.times.sort()
        self.place(offset, payload)

    def place(self, offset: int, payload: bytes) -> None:
        """The bytes at stream `offset`, with no time of their own (another hop's copy filling
        this hop's gap); past a gap they wait in `pending`, the longest piece per offset."""
        if offset > len(self.data):
            if len(payload) > len(self.pending.get(offset, b"")):
                self.pending[offset] = payload
            return
        self.data += payload[len(self.data) - offset:]
        while self.pending:
            ready = [o for o in self.pending if o <= len(self.data)]
            if not ready:
                break
            for o in sorted(ready):
                piece = self.pending.pop(o)
                if o + len(piece) > len(self.data):
                    self.data += piece[len(self.data) - o:]

    def tag_at(self, offset: int) -> Tag | None:
        if not self.starts or offset >= len(self.data):  # past a gap no hop filled: unknown
            return None
        i = bisect.bisect_right(self.starts, offset) - 1
        return self.tags[i] if i >= 0 else None

    def time_at(self, offset: int) -> float:
        i = bisect.bisect_right(self.times, (offset, float("inf"))) - 1
        return self.times[max(i, 0)][1] if self.times else 0.0


@dataclass(slots=True, eq=False)
class _Connection:
    setup_end: float | None = None  # the initial presence (TLS: just before reading 1) on air
    ids: dict[str, Tag] = field(default_factory=dict)  # iq id -> the tag of the reading


@dataclass(slots=True)
class Fed:
    regions: list[Region]
    main: Tag  # for frames that carry only headers of this datagram
    tcp_payload: int = 0
    udp_payload: int = 0


Timeline = Mapping[bytes, Sequence[tuple[float, int]]]  # sensor address -> sorted (t, seq)


class Transport:
    def __init__(self, timeline: Timeline | None = None) -> None:
        self.timeline = timeline or {}
        self.timed: set[Bucket] = set()  # reading buckets attributed by time (TLS)
        self.streams: dict[tuple, _Stream] = {}
        self.retransmissions = 0
        #: (tag, bytes) of each identifier an implementation chose, once per hop: CoAP tokens
        #: (RFC 7252 §5.3.1: 0-8 bytes, the client's pick) and XMPP ` id='...'` attributes
        #: (RFC 6120 §8.1.3: required on an iq only, unique per stream, any length)
        self.identifiers: list[tuple[Tag, int]] = []
        self._coap_seen: set[tuple] = set()
        self._registrations: set[tuple] = set()
        self._coap_by_mid: dict[tuple, Tag] = {}
        self._coap_by_token: dict[tuple, list[tuple[float, Tag]]] = {}

    # RFC 8200 §3, §4
    def feed(self, datagram: Datagram) -> Fed:
        p = datagram.packet or b""
        if len(p) < IPV6_HEADER_LENGTH:
            raise FrameError(f"offset 0: datagram of {len(p)} bytes has no IPv6 header")
        nh = p[6]
        src, dst = p[8:24], p[24:40]
        o = IPV6_HEADER_LENGTH
        regions: list[Region] = []
        # RPL's headers (RFC 6553 hop-by-hop option, RFC 6554 source routing header, the
        # root's IPv6-in-IPv6 of RFC 9008) are IPv6's, so layer lowpan like the IPv6 header
        while o + 2 <= len(p):
            if nh in _EXTENSION_HEADERS:
                length = 8 if nh == _FRAGMENT else (p[o + 1] + 1) * 8
                regions.append(Region(o, o + length, Layer.LOWPAN))
                if nh == _ROUTING:  # the hop's dst is the next hop, not whom the data is for
                    dst = final_destination(p[o:o + length], dst)
                nh = p[o]
                o += length
            elif nh == _IPV6 and o + IPV6_HEADER_LENGTH <= len(p):  # the packet tunnelled
                regions.append(Region(o, o + IPV6_HEADER_LENGTH, Layer.LOWPAN))
                nh = p[o + 6]
                src, dst = p[o + 8:o + 24], p[o + 24:o + 40]
                o += IPV6_HEADER_LENGTH
            else:
                break
        hop = (datagram.src_ll, datagram.dst_ll)
        if nh == TCP and len(p) >= o + 20:
            fed = self._tcp(p, o, src, dst, hop, datagram.time, regions)
        elif nh == UDP and len(p) >= o + UDP_HEADER_LENGTH:
            fed = self._udp(p, o, src, dst, hop, datagram.time, regions)
        elif nh == ICMPV6 and len(p) > o:
            tag = Tag(_ICMPV6_PURPOSE.get(p[o], "icmpv6-other"), (OVERHEAD,))
            regions.append(Region(o, len(p), Layer.ICMPV6, tag))
            fed = Fed(regions, tag)
        else:
            tag = Tag("ipv6-other", (OVERHEAD,))
            regions.append(Region(o, len(p), Layer.LOWPAN, tag))
            fed = Fed(regions, tag)
        for r in fed.regions:
            if r.tag is None and r.stream is None:
                r.tag = fed.main
        return fed

    # RFC 768; RFC 7252 §3; RFC 6762 (mDNS)
    def _udp(self, p: bytes, o: int, src: bytes, dst: bytes, hop: tuple, time: float,
             regions: list[Region]) -> Fed:
        sport, dport = struct.unpack_from(">HH", p, o)
        body = o + UDP_HEADER_LENGTH
        payload = p[body:]
        tag: Tag
        if coap.COAP_PORT in (sport, dport):
            tag = self._coap(payload, src, sport, dst, dport, hop, time)
        elif MDNS_PORT in (sport, dport):
            tag = Tag("mdns", (OVERHEAD,))
        elif DNS_PORT in (sport, dport):  # unicast DNS-SD to a discovery proxy (RFC 8766)
            tag = Tag("dns", (OVERHEAD,))
        else:
            tag = Tag("udp-other", (OVERHEAD,))
        regions.append(Region(o, body, Layer.TRANSPORT, tag))
        regions.append(Region(body, len(p), Layer.APP, tag))
        return Fed(regions, tag, udp_payload=len(payload))

    def _coap(self, payload: bytes, src: bytes, sport: int, dst: bytes, dport: int,
              hop: tuple, time: float) -> Tag:
        try:
            msg = coap.parse(payload)
        except FrameError:
            return Tag("coap-malformed", (OVERHEAD,))
        sensor = src if sport == coap.COAP_PORT else dst
        here = (src, sport, dst, dport)
        back = (dst, dport, src, sport)
        repeated = False
        if msg.type is coap.CoapType.CON:
            seen = (hop, here, msg.message_id, payload)
            repeated = seen in self._coap_seen
            if repeated:
                self.retransmissions += 1
            self._coap_seen.add(seen)
        seq = reading_seq(msg.payload) if not msg.is_request else None
        purpose = msg.purpose
        if msg.type is coap.CoapType.ACK and (back, msg.message_id) in self._registrations:
            tag = Tag(purpose, (SETUP,))  # RFC 7641 §3.1: the registration's own response
        elif seq is not None:
            tag = Tag(purpose, ("reading", sensor, seq))
        elif msg.is_request and (msg.observe == 0 or msg.uri_path.startswith(".well-known")):
            tag = Tag(purpose, (SETUP,))
            self._registrations.add((here, msg.message_id))
        elif msg.is_request:
            mid_key = (back, msg.message_id)
            token_key = (back, msg.token)

            def answer(mid_key=mid_key, token_key=token_key, time=time) -> Tag | None:
                found = self._coap_by_mid.get(mid_key)
                if found is not None and not found.purpose.startswith("coap-ack"):
                    return found
                for t, tag in self._coap_by_token.get(token_key, ()):
                    if t >= time:
                        return tag
                return None
            tag = Tag(purpose, lookup=answer)
        elif msg.is_empty:
            tag = Tag(purpose, lookup=lambda k=(back, msg.message_id): self._coap_by_mid.get(k))
        else:
            tag = Tag(purpose, (OVERHEAD,))
        self._coap_by_mid.setdefault((here, msg.message_id), tag)
        if msg.token and not repeated:  # once per hop, as an XMPP element's id (not resent)
            self.identifiers.append((tag, len(msg.token)))
        if not msg.is_request and not msg.is_empty:
            self._coap_by_token.setdefault((here, msg.token), []).append((time, tag))
        return tag

    # RFC 9293 §3.1 (header), §3.4 (sequence numbers)
    def _tcp(self, p: bytes, o: int, src: bytes, dst: bytes, hop: tuple, time: float,
             regions: list[Region]) -> Fed:
        sport, dport, seq, ack, offset_byte, flags = _TCP.unpack_from(p, o)
        hl = (offset_byte >> 4) * 4
        body = min(o + max(hl, 20), len(p))
        payload_len = len(p) - body
        key = (hop, src, sport, dst, dport)
        stream = self.streams.get(key)
        if stream is None:
            is_xmpp = sport in xmpp.XMPP_PORTS or dport in xmpp.XMPP_PORTS
            client = dport in xmpp.XMPP_PORTS
            stream = self.streams[key] = _Stream(key, client, is_xmpp, src if client else dst)
            reverse = self.streams.get(((hop[1], hop[0]), dst, dport, src, sport))
            if reverse is not None:
                stream.reverse, reverse.reverse = reverse, stream
                stream.connection = reverse.connection
            else:
                stream.connection = _Connection()
        syn, fin, rst, has_ack = flags & 2, flags & 1, flags & 4, flags & 16
        if syn:
            stream.isn = seq
        if stream.isn is None:  # joined mid-connection: the first byte seen is offset 0
            stream.isn = (seq - 1) & 0xFFFFFFFF
        offset = (seq - stream.isn - 1) & 0xFFFFFFFF  # stream offset of the first payload byte
        # retransmitted: bytes (or a SYN/FIN) a complete datagram on this hop already carried
        if syn:
            retransmitted = stream.syn_seen
        elif payload_len:
            retransmitted = offset + payload_len <= len(stream.data) or \
                len(stream.pending.get(offset, b"")) >= payload_len
        else:
            retransmitted = bool(fin and stream.fin_at is not None and offset == stream.fin_at)
        main: Tag
        if retransmitted:
            self.retransmissions += 1
            main = Tag("tcp-retransmission",
                       lookup=lambda s=stream, at=offset: s.tag_at(at) or _setup_if_xmpp(s))
        elif syn:
            main = Tag("tcp-handshake", (SETUP,))
        elif rst:
            main = Tag("tcp-rst", (OVERHEAD,))
        elif payload_len:
            main = Tag("tcp-data", lookup=lambda s=stream, at=offset: s.tag_at(at))
        elif fin:
            main = Tag("tcp-fin", (OVERHEAD,))
        elif has_ack:
            main = self._pure_ack(stream, ack)
        else:
            main = Tag("tcp-other", (OVERHEAD,))
        if payload_len:
            if not retransmitted:
                stream.add(offset, p[body:], time)
            # the TCP header serves what its first payload byte serves; a retransmission's
            # bytes serve what they repeat, split over the elements as the first copy's were
            regions.append(Region(o, body, Layer.TRANSPORT, stream=stream, stream_offset=offset,
                                  header=True, repeat=retransmitted))
            regions.append(Region(body, len(p), Layer.APP, stream=stream, stream_offset=offset,
                                  repeat=retransmitted))
        else:
            regions.append(Region(o, body, Layer.TRANSPORT, main))
        if syn:
            stream.syn_seen = True
        if fin and not retransmitted:
            stream.fin_at = offset + payload_len
        return Fed(regions, main, tcp_payload=payload_len)

    def _pure_ack(self, stream: _Stream, ack: int) -> Tag:
        reverse = stream.reverse
        if reverse is None or reverse.isn is None:
            return Tag("tcp-ack", (OVERHEAD,))
        acked = (ack - reverse.isn - 1) & 0xFFFFFFFF  # bytes of the reverse stream acknowledged
        if acked == 0:
            return Tag("tcp-handshake" if not reverse.data else "tcp-ack",
                       (SETUP,) if not reverse.data else None,
                       lookup=lambda: reverse.tag_at(0))
        if reverse.fin_at is not None and acked == reverse.fin_at + 1:  # acknowledges a FIN
            return Tag("tcp-fin", (OVERHEAD,))
        return Tag("tcp-ack", lookup=lambda: reverse.tag_at(min(acked, len(reverse.data)) - 1))

    def finish(self) -> None:
        """Split every XMPP stream into elements and give each its tag."""
        self._fill_gaps_from_other_hops()
        for stream in self.streams.values():
            if stream.xmpp:
                stream.elements = xmpp.split_stream(bytes(stream.data))
            else:
                stream.elements = [xmpp.Element(0, len(stream.data), "tcp-data", "#data")]
            stream.starts = [e.start for e in stream.elements]
        claims: dict[int, tuple[int, dict[int, int]]] = {}  # id(stream) -> (first, claims)
        for stream in self.streams.values():  # STARTTLS: readings by time, set-up before them
            readings = self.timeline.get(stream.sensor) if stream.xmpp_client else None
            if readings and stream.connection is not None:
                found = attribute_by_time(stream, readings)
                if found:
                    first = min(found)
                    claims[id(stream)] = (first, found)
                    at = stream.time_at(stream.elements[first].start)
                    stream.connection.setup_end = math.nextafter(at, -math.inf)
        for stream in self.streams.values():  # the sensor's initial presence ends set-up
            conn = stream.connection
            if stream.xmpp_client and conn is not None and conn.setup_end is None:
                for e in stream.elements:
                    if e.purpose == "xmpp-presence":
                        conn.setup_end = stream.time_at(e.end - 1)
                        break
        for stream in self.streams.values():
            conn = stream.connection or _Connection()
            first, found = claims.get(id(stream), (-1, {}))
            for i, e in enumerate(stream.elements):
                if i in found:
                    tag = Tag(e.purpose, ("reading", stream.sensor, found[i]))
                    self.timed.add(tag.bucket())
                elif i < first:  # written before the first reading: the (encrypted) set-up
                    tag = Tag(e.purpose, (SETUP,))
                else:
                    tag = _element_tag(stream, conn, e)
                stream.tags.append(tag)
                if e.id is not None and stream.xmpp:
                    self.identifiers.append((tag, len(e.id.encode()) + len(" id=''")))
                if e.id and e.seqnr is not None:
                    conn.ids[e.id] = tag

    def _fill_gaps_from_other_hops(self) -> None:
        """A hop whose capture missed some bytes (a fragment the sniffer did not hear) reads
        them from another hop of the same connection: TCP carries the same bytes at the same
        sequence numbers over every hop. Only hops that saw the same SYN share a base."""
        directions: dict[tuple, list[_Stream]] = {}
        for stream in self.streams.values():
            if stream.syn_seen:
                directions.setdefault((stream.key[1:], stream.isn), []).append(stream)
        for hops in directions.values():
            for hop in hops:
                if not hop.pending:
                    continue
                for other in hops:
                    if other is not hop:
                        hop.place(0, bytes(other.data))
                        for offset, piece in other.pending.items():
                            hop.place(offset, piece)


# RFC 6554 §3 (RPL source routing header), RFC 8200 §4.4
def final_destination(routing: bytes, dst: bytes) -> bytes:
    """Whom a packet carrying this routing header is for: with segments left, the last
    address of an RFC 6554 source route (its first CmprE bytes elided, taken from `dst`),
    else `dst` itself. Other routing types, or a header too short for its own fields: `dst`.
    """
    if len(routing) < 8 or routing[2] != _SOURCE_ROUTE or routing[3] == 0:
        return dst
    cmpr_i, cmpr_e, pad = routing[4] >> 4, routing[4] & 0xF, routing[5] >> 4
    end = len(routing) - pad  # after Addresses[n]
    last = 16 - cmpr_e
    if end - 8 < last or (end - 8 - last) % (16 - cmpr_i):
        return dst
    return dst[:cmpr_e] + routing[end - last:end]


def attribute_by_time(stream: _Stream, readings: Sequence[tuple[float, int]]) -> dict[int, int]:
    """Element index -> seq: the sensor's TLS application-data record carrying each reading.

    A node logs a reading's time t, then writes the stanza: one write, one record (RFC 8446
    §5.1), on the air at or after t, in write order; the radio may hold it back past the next
    reading's t. Of the ways to give readings 1..n increasing records each first on the air at
    or after its t, the one carrying the most bytes wins (the earliest records if equal): a
    stanza with a reading is larger than what else a sensor writes on its own (a set-up write
    still in flight, the presence; a whitespace keepalive; the closing tag). A reading with no
    such record left claims nothing.
    """
    records = [i for i, e in enumerate(stream.elements)
               if e.name == "#tls" and e.record == tls.APPLICATION_DATA]
    times = [stream.time_at(stream.elements[i].start) for i in records]
    if not readings:
        return {}
    first = bisect.bisect_left(times, readings[0][0])  # times follow stream order
    records, times = records[first:], times[first:]
    sizes = [stream.elements[i].end - stream.elements[i].start for i in records]
    n, m = len(readings), len(records)
    # most[k][j]: the most bytes readings k.. can claim from records j..
    most = [[0] * (m + 1) for _ in range(n + 1)]
    for k in range(n - 1, -1, -1):
        t = readings[k][0]
        row, below = most[k], most[k + 1]
        for j in range(m - 1, -1, -1):
            row[j] = max(row[j + 1], below[j],
                         sizes[j] + below[j + 1] if times[j] >= t else -1)
    found: dict[int, int] = {}
    k = j = 0
    while k < n and j < m:
        if times[j] >= readings[k][0] and sizes[j] + most[k + 1][j + 1] == most[k][j]:
            found[records[j]] = readings[k][1]
            k += 1
            j += 1
        elif most[k][j + 1] == most[k][j]:
            j += 1
        else:
            k += 1  # reading k claims nothing
    return found


def _element_tag(stream: _Stream, conn: _Connection, e: xmpp.Element) -> Tag:
    if not stream.xmpp:
        return Tag("tcp-data", (OVERHEAD,))
    if e.seqnr is not None:
        return Tag(e.purpose, ("reading", stream.sensor, e.seqnr))
    if conn.setup_end is not None and stream.time_at(e.start) <= conn.setup_end:
        return Tag(e.purpose, (SETUP,))
    if conn.setup_end is None and e.name != "#tls" and e.purpose in (
            "xmpp-stream", "xmpp-sasl", "xmpp-bind", "xmpp-tls"):
        return Tag(e.purpose, (SETUP,))  # no presence seen (yet): the stream set-up still is
    if e.id:
        return Tag(e.purpose, lookup=lambda i=e.id: conn.ids.get(i))
    return Tag(e.purpose, (OVERHEAD,))


def _setup_if_xmpp(stream: _Stream) -> Tag | None:
    return Tag("tcp-retransmission", (SETUP,)) if stream.xmpp and not stream.data else None

