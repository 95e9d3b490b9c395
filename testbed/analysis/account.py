"""Every byte on the air attributed: by layer, by purpose, to readings, set-up or overhead.

What it is: `analyze(frames)` takes (time, PSDU) pairs (a capture, in file order) and returns
an `AirReport`, the `air` section of results.json. Every frame's bytes on air (SHR+PHR +
PSDU) are split exactly once over layers (layers.py) and, in proportion to the datagram
bytes it carries, over (purpose, bucket) pairs; a frame counts as one frame where most of
its bytes go. A link-layer ACK follows the data frame it acknowledges, a MAC retransmission
the frame it repeats. `analyze_capture(path)` reads a pcap file first.

Readings are told apart by the sequence number they carry (per_reading.method "seq"). After
STARTTLS nothing readable is left: given a `timeline` (the nodes' own reading events, per
sensor address or short address, on the capture's clock) TLS records are attributed by time
instead (transport.attribute_by_time) and per_reading.method says "time".

Totals: `air.bytes` is the PSDU sum (tshark's frame.len, DESIGN.md); the accounting total
is bytes ON AIR, `air.bytes + 6 x frames` (SHR+PHR included), and
    sum(by_layer) == per_reading.bytes x readings + setup.bytes + overhead.bytes == total.
What it is not: the bulk-totals fast path (totals.py) nor a pretty printer (the CLI is).
"""

from __future__ import annotations

import bisect
import gc
import ipaddress
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from testbed.analysis.datagrams import Datagram, Frame, decode_frames
from testbed.analysis.layers import SHR_PHR_BYTES, Layer
from testbed.analysis.transport import OVERHEAD, SETUP, Fed, Region, Tag, Timeline, Transport
from testbed.capture.replay import PcapSource
from testbed.errors import FrameError

DEFAULT_PREFIX = ipaddress.IPv6Network("fd00::/64")


class _Contexts(Mapping[int, bytes]):
    """RFC 6282 §3.1.2 contexts: 0 is the PAN prefix; unknown ones still decode (to ::/64),
    since only lengths, not addresses, decide the accounting."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix

    def __getitem__(self, cid: int) -> bytes:
        return self.prefix if cid == 0 else bytes(8)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(range(16))

    def __len__(self) -> int:
        return 16


@dataclass(slots=True)
class AirReport:
    frames: int = 0
    bytes: int = 0  # PSDU sum
    ack_frames: int = 0
    fragments: int = 0  # frames carrying a FRAG1 or FRAGN
    total_bytes: int = 0  # on air: bytes + 6 x frames
    by_layer: dict[str, int] = field(default_factory=dict)
    by_purpose: dict[str, dict[str, int]] = field(default_factory=dict)
    per_reading: dict[str, float | int | str] = field(default_factory=dict)
    setup: dict[str, int] = field(default_factory=dict)
    overhead: dict[str, int] = field(default_factory=dict)
    fragmentation: dict[str, float | int] = field(default_factory=dict)
    retransmissions: dict[str, int] = field(default_factory=dict)
    payload: dict[str, int] = field(default_factory=dict)  # tcp / udp payload totals (oracle)
    undecodable: int = 0  # frames filed under purpose "undecodable": MAC, 6LoWPAN or above

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


ReadingsTimeline = Mapping[str | int | bytes | ipaddress.IPv6Address,
                           Sequence[tuple[float, int]]]


def analyze_capture(path: str | Path, *, prefix: ipaddress.IPv6Network = DEFAULT_PREFIX,
                    timeline: ReadingsTimeline | None = None) -> AirReport:
    """The AirReport of any capture the replay source reads: pcap or pcapng, gzipped or not,
    LINKTYPE 195 or 230 (FCS appended); BadInput naming the offset if it is damaged.
    The FCS is checked once, by decode_frames (a bad one makes the frame undecodable)."""
    return analyze(PcapSource(path, check_fcs=False).records(), prefix=prefix, timeline=timeline)


def sensor_timeline(timeline: ReadingsTimeline, prefix: ipaddress.IPv6Network = DEFAULT_PREFIX
                    ) -> Timeline:
    """Keys as 16-byte addresses: an IPv6 address as is, a short address as the PAN prefix
    + 0000:00ff:fe00:XXXX (RFC 4944 §6, RFC 6282 §3.2.2); (t, seq) sorted by time."""
    out: dict[bytes, list[tuple[float, int]]] = {}
    for key, readings in timeline.items():
        if isinstance(key, int):
            address = (prefix.network_address + (0xFF_FE00_0000 | key)).packed
        elif isinstance(key, bytes):
            address = key
        else:
            address = ipaddress.IPv6Address(key).packed
        out.setdefault(address, []).extend((float(t), int(seq)) for t, seq in readings)
    return {k: sorted(set(v)) for k, v in out.items()}  # one event per sensor value: once


def _split(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`, integers summing exactly (largest remainder)."""
    whole = sum(weights)
    if whole <= 0:
        return [total] + [0] * (len(weights) - 1)
    parts = [total * w // whole for w in weights]
    rest = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[:rest]:
        parts[i] += 1
    return parts


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The analysis holds ~10 objects a frame until it returns (frames, datagrams, tags,
    regions): CPython's cyclic collector would walk all of them again at every full pass,
    40 % of the time of a 300k-frame capture. Reference counting still frees what dies at
    once; the collector resumes (if it ran before) when the analysis is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def analyze(frames: Iterable[tuple[float, bytes]], *,
            prefix: ipaddress.IPv6Network = DEFAULT_PREFIX,
            timeline: ReadingsTimeline | None = None, fast: bool = True) -> AirReport:
    """The AirReport of (time, PSDU) pairs in capture order; `fast` as in decode_frames."""
    with _collector_paused():
        return _analyze(frames, prefix, timeline, fast)


def _analyze(frames: Iterable[tuple[float, bytes]], prefix: ipaddress.IPv6Network,
             timeline: ReadingsTimeline | None, fast: bool) -> AirReport:
    decoded = decode_frames(frames, _Contexts(prefix.network_address.packed[:8]), fast=fast)
    transport = Transport(sensor_timeline(timeline, prefix) if timeline else None)
    fed: dict[int, Fed] = {}
    report = AirReport()
    for datagram in decoded.datagrams:
        try:
            fed[id(datagram)] = transport.feed(datagram)
        except (FrameError, struct.error, IndexError, ValueError) as exc:  # unreadable: count it
            for frame in datagram.frames:
                frame.error = frame.error or f"{type(exc).__name__}: {exc}"
    transport.finish()
    layers: Counter[str] = Counter({layer.value: 0 for layer in Layer})
    purposes: dict[str, list[int]] = {}
    buckets: dict[tuple, list[int]] = {}
    tcp_payload = udp_payload = 0
    # payload totals as a dissector shows them frame by frame (tshark's tcp.len, udp.length - 8):
    # an unfragmented datagram each time a frame carries it (MAC retries too), a fragmented
    # one once, where its reassembly completes
    for frame in decoded.frames:
        d = frame.datagram
        f = fed.get(id(d)) if d is not None else None
        if f is not None and (not d.fragmented or d.completed_by is frame):
            tcp_payload += f.tcp_payload
            udp_payload += f.udp_payload
    incomplete = Tag("lowpan-incomplete", (OVERHEAD,))
    undecodable = Tag("undecodable", (OVERHEAD,))
    mac_other = Tag("mac-other", (OVERHEAD,))
    shares_of: list[list[tuple[Tag, int]] | None] = [None] * len(decoded.frames)  # by index
    # reading bucket -> link-layer sender -> the datagrams carrying the reading it sent
    messages: dict[tuple, dict[bytes, dict[int, Datagram]]] = {}
    psdu_bytes = ack_bytes = other_bytes = acks = mac_bytes = lowpan_bytes = nhc_bytes = 0
    for frame in decoded.frames:
        kind = frame.kind
        length = frame.length
        psdu_bytes += length
        if kind == "ack":
            # an ACK counts where the largest share of the frame it acknowledges does
            acks += 1
            ack_bytes += length
            acked = shares_of[frame.acked.index] if frame.acked is not None else None
            if not acked:
                bucket = (OVERHEAD,)
            else:
                bucket = (acked[0] if len(acked) == 1 else max(acked, key=_weight))[0].bucket()
            counts = buckets.get(bucket)
            if counts is None:
                buckets[bucket] = [length + SHR_PHR_BYTES, 1]
            else:
                counts[0] += length + SHR_PHR_BYTES
                counts[1] += 1
            continue  # its purpose, mac-ack, is summed after the loop
        if kind != "data":
            other_bytes += length
            if kind == "undecodable":
                report.undecodable += 1
            shares = [(undecodable if kind == "undecodable" else mac_other, 1)]
        else:
            if frame.fragment:
                report.fragments += 1
            mac_bytes += frame.mac
            lowpan_bytes += frame.lowpan
            nhc_bytes += frame.nhc
            shares = _data_shares(frame, fed, layers, incomplete, undecodable)
            if frame.retry_of is not None:
                shares = shares_of[frame.retry_of.index] or shares
            if shares[0][0] is undecodable:  # its 6LoWPAN, IPv6 or transport unreadable
                report.undecodable += 1
            elif frame.retry_of is None:
                _note_message(frame, shares, messages)
        shares_of[frame.index] = shares
        on_air = length + SHR_PHR_BYTES
        if len(shares) == 1:  # the whole frame to one tag (_split of one weight)
            tag = shares[0][0]
            counts = purposes.get(tag.purpose)
            if counts is None:
                purposes[tag.purpose] = [on_air, 1]
            else:
                counts[0] += on_air
                counts[1] += 1
            bucket = tag.bucket()
            counts = buckets.get(bucket)
            if counts is None:
                buckets[bucket] = [on_air, 1]
            else:
                counts[0] += on_air
                counts[1] += 1
            continue
        parts = _split(on_air, [w for _, w in shares])
        best = max(range(len(shares)), key=lambda i: parts[i])
        for i, ((tag, _), part) in enumerate(zip(shares, parts)):
            p = purposes.setdefault(tag.purpose, [0, 0])
            b = buckets.setdefault(tag.bucket(), [0, 0])
            p[0] += part
            b[0] += part
            if i == best:
                p[1] += 1
                b[1] += 1
    report.frames = len(decoded.frames)
    report.bytes = psdu_bytes
    report.ack_frames = acks
    if acks:
        purposes["mac-ack"] = [ack_bytes + SHR_PHR_BYTES * acks, acks]
    layers[Layer.PHY] += SHR_PHR_BYTES * report.frames
    layers[Layer.ACK] += ack_bytes
    layers[Layer.MAC] += other_bytes + mac_bytes
    layers[Layer.LOWPAN] += lowpan_bytes
    layers[Layer.TRANSPORT] += nhc_bytes
    report.total_bytes = report.bytes + SHR_PHR_BYTES * report.frames
    report.by_layer = dict(layers)
    report.by_purpose = {k: {"bytes": v[0], "frames": v[1]} for k, v in sorted(purposes.items())}
    readings = {k: v for k, v in buckets.items() if k[0] == "reading"}
    n = len(readings)
    total_reading_bytes = sum(v[0] for v in readings.values())
    total_reading_frames = sum(v[1] for v in readings.values())
    report.per_reading = {
        # how readings were told apart: the seq they carry, or (TLS) the time they were sent
        "method": "time" if transport.timed & readings.keys() else "seq",
        "readings": n,
        "bytes": total_reading_bytes / n if n else 0.0,
        "frames": total_reading_frames / n if n else 0.0,
        "bytes_total": total_reading_bytes,
        "frames_total": total_reading_frames,
        "bytes_min": min((v[0] for v in readings.values()), default=0),
        "bytes_max": max((v[0] for v in readings.values()), default=0),
    }
    report.per_reading.update(_message_sizes(messages))
    if n and report.per_reading["method"] == "seq":  # the implementations' identifiers per
        # reading (transport.identifiers); after STARTTLS they are not on the air in clear
        report.per_reading["identifier_bytes"] = sum(
            size for tag, size in transport.identifiers if tag.bucket()[0] == "reading") / n
    setup = buckets.get((SETUP,), [0, 0])
    overhead = buckets.get((OVERHEAD,), [0, 0])
    report.setup = {"bytes": setup[0], "frames": setup[1]}
    report.overhead = {"bytes": overhead[0], "frames": overhead[1]}
    report.fragmentation = _fragmentation(decoded.datagrams, decoded.incomplete)
    report.retransmissions = {"mac": decoded.mac_retries, "transport": transport.retransmissions}
    report.payload = {"tcp": tcp_payload, "udp": udp_payload}
    decoded.release()
    return report


#: the purposes of the message that carries a reading from its sensor (not its request)
CARRIERS = frozenset({"coap-response", "coap-notification", "xmpp-message", "xmpp-pubsub",
                      "xmpp-iq", "xmpp-tls"})


def _note_message(frame: Frame, shares: list[tuple[Tag, int]],
                  messages: dict[tuple, dict[bytes, dict[int, Datagram]]]) -> None:
    """Remember the frame's datagram when it carries a reading from the reading's sensor (its
    IPv6 source): the reading's own message, hop by hop."""
    d = frame.datagram
    if d is None or d.packet is None:
        return
    for tag, _ in shares:
        if tag.purpose in CARRIERS:
            bucket = tag.bucket()
            if bucket[0] == "reading" and d.packet[8:24] == bucket[1]:
                messages.setdefault(bucket, {}).setdefault(d.src_ll, {})[id(d)] = d


def _message_sizes(messages: Mapping[tuple, Mapping[bytes, Mapping[int, Datagram]]]
                   ) -> dict[str, Any]:
    """The reading's message on its first hop (the sensor's own transmission, the earliest
    link-layer sender): its frames (fragments, MAC retries not counted) and bytes on air.
    `message_one_frame` readings went out in a single 802.15.4 frame."""
    sizes = []
    for hops in messages.values():
        first = min(hops.values(), key=lambda ds: min(d.time for d in ds.values()))
        frames = [f for d in first.values() for f in d.frames if f.retry_of is None]
        sizes.append((len(frames), sum(f.length + SHR_PHR_BYTES for f in frames)))
    if not sizes:
        return {}
    sizes.sort(key=lambda fb: fb[1])
    return {"messages": len(sizes), "message_bytes": sizes[len(sizes) // 2][1],
            "message_frames": sorted(f for f, _ in sizes)[len(sizes) // 2],
            "message_frames_max": max(f for f, _ in sizes),
            "message_one_frame": sum(1 for f, _ in sizes if f == 1)}


def _weight(share: tuple[Tag, int]) -> int:
    return share[1]


def _data_shares(frame: Frame, fed: dict[int, Fed], layers: Counter[str], incomplete: Tag,
                 undecodable: Tag) -> list[tuple[Tag, int]]:
    """Layer counts of the frame's inline datagram bytes; (tag, bytes) shares of the frame."""
    start, end = frame.span
    inline = end - start
    datagram = frame.datagram
    f = fed.get(id(datagram)) if datagram is not None else None
    if f is None:
        layers[Layer.APP] += max(inline, 0)  # a datagram never completed: layers unknown
        return [(incomplete if frame.error is None else undecodable, 1)]
    shares: list[tuple[Tag, int]] = []
    placed = 0  # bytes given a layer: stream bytes no element covers (after a gap) count too
    for region in f.regions:
        lo = region.start if region.start > start else start
        hi = region.end if region.end < end else end
        if lo >= hi:
            continue
        layers[region.layer] += hi - lo
        placed += hi - lo
        if region.stream is not None:
            shares.extend(_stream_shares(region, lo, hi))
        else:
            shares.append((region.tag or f.main, hi - lo))
    if placed < inline:  # bytes past every region (padding): the datagram's own purpose
        layers[Layer.LOWPAN] += inline - placed
    return shares or [(f.main, 1)]


def _stream_shares(region: Region, lo: int, hi: int) -> list[tuple[Tag, int]]:
    stream = region.stream
    assert stream is not None
    if region.header:
        tag = stream.tag_at(region.stream_offset)
        return [(_repeated(tag) if region.repeat else tag, hi - lo)] if tag is not None else []
    a = region.stream_offset + (lo - region.start)
    b = a + (hi - lo)
    out: list[tuple[Tag, int]] = []
    i = max(bisect.bisect_right(stream.starts, a) - 1, 0)
    while i < len(stream.elements) and stream.elements[i].start < b:
        e = stream.elements[i]
        overlap = min(b, e.end) - max(a, e.start)
        if overlap > 0:
            tag = stream.tags[i]
            out.append((_repeated(tag) if region.repeat else tag, overlap))
        i += 1
    return out


def _repeated(tag: Tag) -> Tag:
    """A TCP retransmission of bytes `tag` serves: counted where they are, named as what it is."""
    return Tag("tcp-retransmission", tag.bucket())


def _fragmentation(datagrams: list[Datagram], incomplete: list[Datagram]) -> dict[str, Any]:
    """Datagrams sent whole or in fragments (RFC 4944 §5.3); MAC retries not counted again."""
    fragmented = [len({f.span for f in d.frames if f.retry_of is None})
                  for d in datagrams if d.fragmented]
    return {
        "datagrams": len(datagrams),
        "fragmented": len(fragmented),
        "incomplete": len(incomplete),
        "fragments_per_datagram_mean": round(sum(fragmented) / len(fragmented), 3)
        if fragmented else 0.0,
        "fragments_per_datagram_max": max(fragmented, default=0),
    }
