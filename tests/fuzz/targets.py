"""The fuzz targets: every parser that reads bytes or text from outside, in one list.

What it is: `TARGETS`, one `Target` per parser: its name, a call that feeds it one input, the
typed error(s) it may raise on bad input, and a hypothesis strategy of inputs (mutations of
valid seeds made by the project's own writers and codecs, plus plain random bytes or text).
Any other exception, a hang or runaway memory is a finding. Shared by the suite
(tests/fuzz/test_parsers.py) and the long run (benchmarks/fuzz_parsers.py).
What it is not: a driver; it does not time or count anything.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import importlib.util
import io
import struct
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from ipaddress import IPv6Network
from pathlib import Path
from typing import Any

import cbor2
from hypothesis import strategies as st

from testbed.analysis.account import analyze
from testbed.analysis.layers import lowpan_header_lengths
from testbed.analysis.totals import capture_totals
from testbed.backends import meter
from testbed.capture import pcapfile, pcapng, sensniff
from testbed.capture.pcapwriter import PcapWriter
from testbed.config.lab import parse_lab
from testbed.config.topology import parse_topology
from testbed.energy import energest, meters
from testbed.errors import BadInput, FrameError, LabError, TopologyError
from testbed.lowpan import iphc, mac
from testbed.lowpan.adapter import Adapter
from testbed.services import coap_sink, xmpp_sink

ROOT = Path(__file__).resolve().parents[2]
COAP_NODE = ROOT / "nodes" / "coap-sensor"
XMPP_NODE = ROOT / "nodes" / "xmpp-sensor"
for _app in (COAP_NODE, XMPP_NODE):  # the node apps import their modules by plain name
    if str(_app) not in sys.path:
        sys.path.insert(0, str(_app))

import coap  # noqa: E402
import scram  # noqa: E402
import reading  # noqa: E402  (nodes/common/reading.py, linked into both apps)
import xmltok  # noqa: E402


def _load(name: str, path: Path) -> Any:
    """A node app's main.py under its own module name (both apps call theirs main.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


coap_main = _load("coap_sensor_main", COAP_NODE / "main.py")


@dataclass(frozen=True)
class Target:
    """One parser under fuzz: `call(input)` parses; `allowed` is what it may raise."""

    name: str
    call: Callable[[Any], object]
    allowed: tuple[type[BaseException], ...]
    inputs: st.SearchStrategy[Any]
    show: Callable[[Any], str] = repr  # how a reproducer is printed
    #: False for parsers that never raise on content: they list bad lines in their result
    rejects: bool = True


# -- mutation of valid seeds ---------------------------------------------------------------

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0xC1, 0x1F, 0x72, 0x41, 0x60, 0x7E)
INTERESTING_TEXT = (
    "9" * 5000, "1" * 400, "-1", "0", "nan", "inf", "-inf", "1e999", "1e-400", "\u0661\u0662",
    "\x00", "\x1b", "\ufeff", "\u2028", "\r", "\t", " ", ":", "- ", "[", "]", "{", "}", ",",
    "&a ", "*a", "<<: *a", "!!python/object:os.system", "!!binary", "? ", "|", ">", "#", "'",
    '"', "%YAML 1.2\n", "---\n", "...\n", "~", "null", "yes", "0x", "0o7", "1_000", ".5", "é",
    "&", "&#x110000;", "&#99999999999999999999;", "&#x;", "&lt;", "<", "/>", "</", "<!--",
    "<?", "<![CDATA[", "=", "\udcff",
)


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """A seed with 0..8 byte-level edits: flips, interesting bytes, inserts, cuts, repeats,
    splices with another seed. Edits keep most of a valid structure so parsers go deep."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.integers(0, 7))
        at = draw(st.integers(0, len(data)))
        if op == 0 and data and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == 1 and at < len(data):
            data[at] = draw(st.sampled_from(INTERESTING_BYTES))
        elif op == 2:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == 3:
            del data[at:at + draw(st.integers(1, 32))]
        elif op == 4:
            del data[at:]
        elif op == 5:
            piece = bytes(data[at:at + draw(st.integers(1, 64))])
            data[at:at] = piece * draw(st.integers(1, 4))
        elif op == 6:
            other = draw(st.sampled_from(seeds))
            cut = draw(st.integers(0, len(other)))
            data[at:] = other[cut:]
        elif op == 7 and len(data) >= at + 4:
            value = draw(st.sampled_from((0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                                          0x10000, 0x40000)))
            data[at:at + 4] = struct.pack(draw(st.sampled_from(("<I", ">I"))), value)
    return bytes(data)


@st.composite
def mutated_text(draw: st.DrawFn, seeds: Sequence[str]) -> str:
    """A seed with 0..6 line- and character-level edits (drop, repeat, swap lines; insert
    tokens that parsers trip on: huge numbers, nan, YAML aliases and tags, entities)."""
    lines = draw(st.sampled_from(seeds)).split("\n")
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 6))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        line = lines[i] if lines else ""
        at = draw(st.integers(0, len(line)))
        if op == 0:
            lines[i:i + 1] = [line[:at] + draw(st.sampled_from(INTERESTING_TEXT)) + line[at:]]
        elif op == 1:
            lines[i:i + 1] = [line[:at] + line[at + draw(st.integers(1, 12)):]]
        elif op == 2 and lines:
            del lines[i]
        elif op == 3:
            lines[i:i] = [line] * draw(st.integers(1, 3))
        elif op == 4 and lines:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], line
        elif op == 5:
            lines[i:i + 1] = [line[:at] + draw(st.text(max_size=8)) + line[at:]]
        elif op == 6:
            lines[i:] = lines[i:i + 1] if draw(st.booleans()) else []
    return draw(st.sampled_from(("\n", "\r\n", "\r"))).join(lines)


def any_bytes(seeds: Sequence[bytes], max_size: int = 512) -> st.SearchStrategy[bytes]:
    """Mostly mutated seeds (deep paths), some plain random bytes (shallow paths)."""
    return st.one_of(mutated_bytes(seeds), mutated_bytes(seeds), mutated_bytes(seeds),
                     st.binary(max_size=max_size))


def any_text(seeds: Sequence[str], max_size: int = 512) -> st.SearchStrategy[str]:
    return st.one_of(mutated_text(seeds), mutated_text(seeds), mutated_text(seeds),
                     st.text(max_size=max_size))


def chunked(data: st.SearchStrategy[bytes]) -> st.SearchStrategy[list[bytes]]:
    """A byte stream as it comes off a serial port or socket: split at random places."""
    @st.composite
    def split(draw: st.DrawFn) -> list[bytes]:
        whole = draw(data)
        cuts = sorted(draw(st.lists(st.integers(0, len(whole)), max_size=6)))
        return [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)])]
    return split()


# -- valid seeds, made by the project's own writers and codecs ----------------------------

PREFIX = IPv6Network("fd00::/64")
CONTEXTS = {0: PREFIX.network_address.packed[:8]}


def _ipv6_udp(src: int, dst: int, payload: bytes, *, hop_limit: int = 64) -> bytes:
    """An IPv6/UDP datagram between two PAN nodes' global addresses (RFC 8200, RFC 768)."""
    head = PREFIX.network_address.packed[:8] + bytes((0, 0, 0, 0xFF, 0xFE, 0))  # RFC 6282 §3.2.2
    source, dest = head + src.to_bytes(2, "big"), head + dst.to_bytes(2, "big")
    udp = struct.pack(">HHHH", 5683, 61616, 8 + len(payload), 0x1234) + payload
    return struct.pack(">IHBB", 6 << 28, len(udp), 17, hop_limit) + source + dest + udp


@cache
def psdu_seeds() -> tuple[bytes, ...]:
    """Data frames (whole and fragmented, short and extended addressing) and an ACK."""
    frames: list[bytes] = [mac.encode_ack(7)]
    for addressing in ("short", "extended"):
        adapter = Adapter(0xABCD, addressing, PREFIX)
        for size, hop in ((10, 64), (90, 1), (300, 255)):
            payload = (bytes(range(256)) * 2)[:size]
            frames += adapter.to_frames(_ipv6_udp(2, 1, payload, hop_limit=hop), 2, 1, seq=3,
                                        tag=9)
        frames += adapter.to_frames(_ipv6_udp(2, 0xFFFF, b"hello"), 2, 0xFFFF, seq=5, tag=1)
    return tuple(frames)


@cache
def psdu_sequences() -> tuple[tuple[bytes, ...], ...]:
    """Whole datagrams as frame sequences (a fragmented one needs all of its frames)."""
    out = []
    adapter = Adapter(0xABCD, "short", PREFIX)
    for size in (20, 200, 400):
        out.append(tuple(adapter.to_frames(_ipv6_udp(3, 1, bytes(size)), 3, 1, seq=1, tag=size)))
    return tuple(out)


#: a real Contiki-NG 5.0 capture: EUI-64 addresses, IPHC with CID, RFC 6282 §4.2 NHC for RPL's
#: hop-by-hop option (RFC 6553) and source routing header (RFC 6554), RPL control messages
CONTIKI_CAPTURE = ROOT / "tests" / "analysis" / "data" / "contiki-coap-get.pcap"


@cache
def contiki_psdus() -> tuple[bytes, ...]:
    """Every frame of the Contiki capture (data and ACK), in capture order."""
    return tuple(f.psdu for f in pcapfile.iter_frames(CONTIKI_CAPTURE))


@cache
def ipv6_extension_seeds() -> tuple[bytes, ...]:
    """IPHC payloads with every NHC form the codec writes: extension headers of each EID,
    an inner IPv6 header (EID 7), elided option padding, all behind one IPHC."""
    head = PREFIX.network_address.packed[:8] + bytes((0, 0, 0, 0xFF, 0xFE, 0))
    src, dst = head + b"\x00\x02", head + b"\x00\x01"
    rpl = bytes((17, 0, 0x63, 4, 0, 0, 1, 0x57))  # RFC 6553 option, then UDP
    route = bytes((0, 1, 3, 1, 0xFF, 0x70, 0, 0, 5)) + bytes(7)  # RFC 6554, then hop-by-hop
    frag = bytes((43, 0, 0, 9, 0, 0, 0, 1))  # fragment header, then routing
    udp = struct.pack(">HHHH", 5683, 61616, 12, 0x1234) + b"seq="
    inner = struct.pack(">IHBB", 6 << 28, 0, 44, 63) + src + dst + frag + route + rpl + udp
    outer = struct.pack(">IHBB", 6 << 28, len(inner), 41, 64) + dst + src + inner
    packets = (outer, struct.pack(">IHBB", 6 << 28, 8 + len(udp), 0, 64) + src + dst + rpl + udp)
    out = []
    for packet in packets:
        header, used = iphc.compress(packet, src_ll=b"\x00\x02", dst_ll=bytes(range(8)),
                                     contexts=CONTEXTS, extension_nhc=True)
        out.append(header + packet[used:])
    # a hop-by-hop option with its trailing PadN elided, and a destination options header
    # with its Pad1 elided (RFC 6282 §4.2), ahead of an inline next header
    out.append(bytes((0x7E, 0x33, 0xE0, 59, 4, 0x63, 2, 0xAB, 0xCD)))
    out.append(bytes((0x7E, 0x33, 0xE6, 58, 5, 5, 2, 0, 0, 7, 0x80, 0, 0, 0)))
    return tuple(out)


@cache
def iphc_seeds() -> tuple[bytes, ...]:
    frames = [mac.decode(f).payload for f in psdu_seeds() if f[0] & 7 == 1]
    frames += [mac.decode(f).payload for f in contiki_psdus() if f[0] & 7 == 1]
    return (*frames, *ipv6_extension_seeds())


@cache
def pcap_seeds() -> tuple[bytes, ...]:
    """Captures written by the medium's own PcapWriter."""
    out = []
    with tempfile.TemporaryDirectory() as folder:
        for count in (0, 1, 4):
            path = Path(folder) / f"{count}.pcap"
            with PcapWriter(path, t0_unix=1_700_000_000.0) as writer:
                for i, psdu in enumerate(psdu_seeds()[:count]):
                    writer.write(i * 0.004, psdu)
            out.append(path.read_bytes())
    # the other three magics the reader takes: nanoseconds, and both in big-endian order
    nanoseconds = b"\x4d\x3c\xb2\xa1" + out[-1][4:]
    big_endian = b"".join((b"\xa1\xb2\xc3\xd4", struct.pack(">HHiIII", 2, 4, 0, 0, 65535, 195),
                           struct.pack(">IIII", 1_700_000_000, 999_999, 5, 5), psdu_seeds()[0]))
    return (*out, nanoseconds, big_endian, b"\xa1\xb2\x3c\x4d" + big_endian[4:])


def _pcapng_block(order: str, kind: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(order + "II", kind, total) + body + struct.pack(order + "I", total)


def pcapng_file(order: str, frames: Sequence[bytes], *, tsresol: int | None = 9,
                simple: bool = False) -> bytes:
    """A pcapng file (SHB, IDB with if_tsresol, EPBs or SPBs), after the pcapng draft §4."""
    shb = _pcapng_block(order, pcapng.SHB, struct.pack(order + "IHHq", pcapng.BYTE_ORDER_MAGIC,
                                                       1, 0, -1))
    options = b""
    if tsresol is not None:
        options = struct.pack(order + "HH", pcapng.OPT_IF_TSRESOL, 1) + bytes((tsresol, 0, 0, 0))
        options += struct.pack(order + "HH", 0, 0)
    idb = _pcapng_block(order, pcapng.IDB, struct.pack(order + "HHI", 195, 0, 0) + options)
    blocks = [shb, idb]
    for i, frame in enumerate(frames):
        if simple:
            blocks.append(_pcapng_block(order, pcapng.SPB, struct.pack(order + "I", len(frame))
                                        + frame))
        else:
            stamp = 1_700_000_000_000_000_000 + i * 4_000_000
            body = struct.pack(order + "IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(frame),
                               len(frame)) + frame
            blocks.append(_pcapng_block(order, pcapng.EPB, body))
    return b"".join(blocks)


@cache
def pcapng_seeds() -> tuple[bytes, ...]:
    frames = psdu_seeds()[:3]
    return (pcapng_file("<", frames), pcapng_file(">", frames, tsresol=0x86),
            pcapng_file("<", frames, simple=True), pcapng_file("<", frames, tsresol=None)
            + pcapng_file(">", frames[:1]))


@cache
def sensniff_seeds() -> tuple[bytes, ...]:
    frames = [sensniff.encode_frame(p, rssi=-40, lqi=100) for p in psdu_seeds()[:4]]
    replies = [sensniff.encode(sensniff.Command.CHANNEL, b"\x1a"),
               sensniff.encode(sensniff.Command.ERR_NOT_SUPPORTED)]
    return (b"".join(frames), b"\x00garbage" + frames[0] + replies[0] + frames[1],
            b"".join(replies) + frames[2][:20] + frames[3])


@cache
def sensniff_command_seeds() -> tuple[bytes, ...]:
    c = sensniff.Command
    return (sensniff.encode_command(c.GET_CHANNEL) + sensniff.encode_command(c.SET_CHANNEL, 26),
            sensniff.encode_command(c.GET_CHANNEL_MIN) + sensniff.encode_command(c.GET_CHANNEL_MAX))


def _yaml_seeds(folder: str) -> tuple[str, ...]:
    return tuple(p.read_text() for p in sorted((ROOT / folder).glob("*.yaml")))


@cache
def topology_seeds() -> tuple[str, ...]:
    return _yaml_seeds("topologies")


@cache
def lab_seeds() -> tuple[str, ...]:
    return _yaml_seeds("labs")


ENERGEST = """\
[INFO: Energest  ] --- Period summary #1 (60 seconds)
[INFO: Energest  ] Total time  :    1966080
[INFO: Energest  ] CPU         :      12345/   1966080 (6 permil)
[INFO: Energest  ] LPM         :    1953735/   1966080 (993 permil)
[INFO: Energest  ] Deep LPM    :          0/   1966080 (0 permil)
[INFO: Energest  ] Radio Tx    :       1024/   1966080 (0 permil)
[INFO: Energest  ] Radio Rx    :      70000/   1966080 (35 permil)
[INFO: Energest  ] Radio total :      71024/   1966080 (36 permil)
[INFO: App       ] sent reading 4
--- Period summary #2 (60 seconds)
Total time  :    1966080
CPU         :      22345/   1966080 (11 permil)
LPM         :    1943735/   1966080 (988 permil)
Deep LPM    :          0/   1966080 (0 permil)
Radio Tx    :       2048/   1966080 (1 permil)
Radio Rx    :      80000/   1966080 (40 permil)
"""
SERIAL_LINES = ("t_s,current_mA,bus_V\n12.0000 18.80 3.001\n12.0010 18.90 3.000 # tx\n"
                "12.0020,5.1,3.0\n")
OML = """\
protocol: 5
domain: consumption
start-time: 1700000000
senderhostname: m3-1
app-name: control_node_measure
schema: 0 _experiment_metadata subject:string key:string value:string
schema: 1 control_node_measures_consumption timestamp_s:uint32 timestamp_us:uint32 \
power:double voltage:double current:double
content: text

1.0\t1\t1\t1700000000\t100\t0.0990\t3.3\t0.0300
1.1\t1\t2\t1700000000\t240\t0.0660\t3.3\t0.0200
1.2\t1\t3\t1700000000\t380\t0.0500\t0\t0
"""
PPK2_CSV = ("Timestamp(ms),Current(uA),D0-D7\n0.00,1500.5,00000000\n0.01,1490.1,00000001\n"
            "0.02,9e3,0\n")


@st.composite
def ppk2_stream(draw: st.DrawFn) -> list[Any]:
    """What PPK2_API.get_samples hands over: floats, mostly, and whatever a bad read gives."""
    odd = st.sampled_from((float("nan"), float("inf"), None, "12", b"\x00", 10**400, -0.0, [1]))
    return draw(st.lists(st.one_of(st.floats(), st.integers(-10**6, 10**6), odd), max_size=64))


@cache
def coap_seeds() -> tuple[bytes, ...]:
    m = coap.Message
    return tuple(coap.encode(msg) for msg in (
        m(coap.CON, coap.GET, 0x1234, b"\x01", [(coap.URI_PATH, b"sensors"),
                                                   (coap.URI_PATH, b"temperature")]),
        m(coap.CON, coap.GET, 7, b"tok12345", [(coap.OBSERVE, b""), (coap.URI_PATH, b"sensors"),
                                               (coap.URI_PATH, b"temperature"),
                                               (coap.ACCEPT, coap.encode_uint(112))]),
        m(coap.NON, coap.GET, 8, b"", [(coap.URI_PATH, b".well-known"), (coap.URI_PATH, b"core")]),
        m(coap.ACK, coap.CONTENT, 9, b"\x02", [(coap.CONTENT_FORMAT, b"\x70"),
                                               (coap.BLOCK2, b"\x06"), (1000, bytes(300))],
          b"seq=1 t=1700000000.5 v=21.5"),
        m(coap.CON, coap.EMPTY, 10),
    ))


@cache
def reading_seeds() -> tuple[bytes, ...]:
    return (reading.text("s1", 3, 1_700_000_000.25, [("temperature", 21.5)]),
            reading.senml_cbor("s1", 3, 1_700_000_000.25, [("temperature", 21.5)]),
            reading.senml_cbor("s1", 0, 1_700_000_000.0, [("temperature", -3.0)]),
            reading.senml_json("s1", 3, 1_700_000_000.25, [("temperature", 21.5)]))


_CBOR_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**70, 2**70),
                       st.just(10**400), st.floats(), st.text(max_size=12),
                       st.sampled_from(("temperature", "s1/", "seq", "/seq", "")),
                       st.binary(max_size=8))
_CBOR_VALUE = st.recursive(_CBOR_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.integers(-8, 8), inner, max_size=3)),
    max_leaves=6)
#: SenML records (RFC 8428 §6) whose labels are right and whose values are anything
SENML_PACKS = st.lists(st.dictionaries(
    st.one_of(st.sampled_from((-2, -3, 0, 2, 6)), st.integers(-10, 10), st.text(max_size=3)),
    _CBOR_VALUE, max_size=5), max_size=4).map(cbor2.dumps)


XMPP_STREAM = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='iot.testbed' id='a&amp;b' "
    "version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms>"
    "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    "<iq type='get' id='r1' from='sink@iot.testbed/sink'><req xmlns='urn:xmpp:iot:sensordata' "
    "seqnr='1' momentary='true'/></iq>"
    "<message to='s1@iot.testbed'><body>&lt;&#x41;&#66;&quot;</body><!-- c --></message> "
    "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>"
)


@cache
def stanza_stream_seeds() -> tuple[bytes, ...]:
    return (XMPP_STREAM.encode(), XMPP_STREAM.replace("'", '"').encode(),
            "<stream:stream><x a='é\u00e9'>日本</x>".encode())


CLIENT_NONCE = "fyko+d2lbbFgONRv9qkxdawL"
# a small iteration count keeps the long run fast; the mutations reach the large ones
SERVER_FIRST = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=16"


def _server_final(server_first: bytes, password: bytes = b"pencil") -> bytes:
    """v=ServerSignature (RFC 5802 §3), computed with hashlib, not with the code under test."""
    attrs = dict(part.split(b"=", 1) for part in server_first.split(b","))
    salted = hashlib.pbkdf2_hmac("sha1", password, base64.b64decode(attrs[b"s"]),
                                 int(attrs[b"i"]))
    auth = (b"n=user,r=" + CLIENT_NONCE.encode() + b"," + server_first + b",c=biws,r="
            + attrs[b"r"])
    server_key = hmac.new(salted, b"Server Key", "sha1").digest()
    return b"v=" + base64.b64encode(hmac.new(server_key, auth, "sha1").digest())


SERVER_FINAL = _server_final(SERVER_FIRST)


def scram_exchange(server_first: bytes) -> object:
    """The client's side of SCRAM-SHA-1 on a server-first-message, then the server-final."""
    exchange = scram.ScramSha1("user", "pencil", CLIENT_NONCE)
    exchange.final(server_first)
    return exchange.verify(SERVER_FINAL)


def fields_element(seqnr: str | None, stamp: str | None, name: str | None,
                   value: str | None, node_id: str | None) -> ET.Element:
    """An XEP-0323 <fields/> as the sink finds it in a message, a publish or an iq result."""
    ns = xmpp_sink.NS_SENSORDATA

    def attrs(**kw: str | None) -> dict[str, str]:
        return {k: v for k, v in kw.items() if v is not None}

    fields = ET.Element(f"{{{ns}}}fields", attrs(seqnr=seqnr))
    node = ET.SubElement(fields, f"{{{ns}}}node", attrs(nodeId=node_id))
    timestamp = ET.SubElement(node, f"{{{ns}}}timestamp", attrs(value=stamp))
    ET.SubElement(timestamp, f"{{{ns}}}numeric", attrs(name=name, value=value))
    return fields


def _mutated_field(valid: str) -> st.SearchStrategy[str | None]:
    return st.one_of(st.just(valid), st.none(), mutated_text((valid,)),
                     st.sampled_from(INTERESTING_TEXT), st.text(max_size=40))


FIELDS_INPUT = st.builds(
    fields_element, _mutated_field("42"), _mutated_field("2026-12-04T05:20:01.250Z"),
    _mutated_field("temperature"), _mutated_field("21.5"), _mutated_field("s1"))


# -- the calls --------------------------------------------------------------------------------


def feed_sensniff(chunks: list[bytes]) -> object:
    decoder = sensniff.Decoder()
    out = []
    for chunk in chunks:
        for message in decoder.feed(chunk):
            out.append(sensniff.frame_of(message) if message.command == 0 else message)
    for message in decoder.finish():
        out.append(sensniff.frame_of(message) if message.command == 0 else message)
    return out


def feed_sensniff_commands(chunks: list[bytes]) -> object:
    parser = sensniff.CommandParser()
    return [parser.feed(chunk) for chunk in chunks]


def decode_mac(psdu: bytes) -> object:
    try:
        return mac.decode(psdu)
    except FrameError:
        return mac.decode(psdu, check_fcs=False)


def deliver_frames(frames: list[bytes]) -> object:
    """A receiving node's whole path: MAC decode, reassembly, IPHC decompression."""
    adapter = Adapter(0xABCD, "short", PREFIX, timeout_s=60.0)
    out = []
    for i, psdu in enumerate(frames):
        try:
            out.append(adapter.deliver(psdu, float(i), check_fcs=False))
        except FrameError:
            out.append(None)  # a receiver drops the frame and carries on: so does the next
    return out


@st.composite
def frame_sequences(draw: st.DrawFn) -> list[bytes]:
    """Frames of whole datagrams, some mutated, shuffled, duplicated or dropped."""
    frames = list(draw(st.sampled_from(psdu_sequences())))
    frames += list(draw(st.sampled_from(psdu_sequences())))
    frames = [draw(mutated_bytes((f,))) if draw(st.booleans()) else f for f in frames]
    frames = draw(st.permutations(frames))
    return frames[:draw(st.integers(0, len(frames)))] + frames[:draw(st.integers(0, 2))]


def decompress_iphc(data: bytes) -> object:
    header, consumed = iphc.decompress(data, src_ll=b"\x00\x02", dst_ll=bytes(range(8)),
                                       contexts=CONTEXTS)
    return header + data[consumed:]


def lowpan_lengths(data: bytes) -> object:
    """The analysis's header lengths, then the codec over the same bytes (the analysis decodes
    what the lengths say it may): the two must agree on where the compressed headers end."""
    frag, head, nhc = lowpan_header_lengths(data)
    if frag or data[0] == 0x41:
        return frag, head, nhc
    header, consumed = iphc.decompress(data, src_ll=b"\x00\x02", dst_ll=bytes(range(8)),
                                       contexts=CONTEXTS)
    if consumed != head + nhc:
        raise AssertionError(f"lengths {head}+{nhc} but the codec consumed {consumed}")
    return header


@st.composite
def capture_frames(draw: st.DrawFn) -> list[bytes]:
    """A stretch of the Contiki capture, some frames mutated, dropped or repeated."""
    frames = list(contiki_psdus())
    start = draw(st.integers(0, len(frames) - 1))
    frames = frames[start:start + draw(st.integers(1, 40))]
    frames = [draw(mutated_bytes((f,))) if draw(st.integers(0, 3)) == 0 else f for f in frames]
    return frames + frames[:draw(st.integers(0, 3))]


def analyze_frames(frames: list[bytes]) -> object:
    """The whole air analysis (MAC, 6LoWPAN, IPv6 chain, CoAP, attribution) on frames: it
    counts what it cannot read as undecodable, it never raises."""
    return analyze(((i * 0.01, psdu) for i, psdu in enumerate(frames))).to_json()


def totals_of(data: bytes) -> object:
    """The bulk-path totals of a capture file (RFC 6282 §4.2 chains take the codec)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.pcap"
        path.write_bytes(data)
        return capture_totals(path)


@cache
def contiki_pcap_seeds() -> tuple[bytes, ...]:
    whole = CONTIKI_CAPTURE.read_bytes()
    return (whole, whole[:24 + 16 * 12 + sum(len(f) for f in contiki_psdus()[:12])])


def coap_server_receive(data: bytes) -> object:
    """The coap-sensor's request path: decode, answer (or RST), as on its socket."""
    sent: list[tuple[bytes, object]] = []

    class Socket:
        def sendto(self, datagram: bytes, peer: object) -> None:
            sent.append((datagram, peer))

    for observe in ("con", None):
        server = coap_main.SensorServer({"name": "s1", "observe": observe,
                                         "format": "senml-cbor"}, Socket())
        with contextlib.redirect_stdout(io.StringIO()):  # reading events are JSON lines
            server.receive(data, ("fd00::1", 5683, 0, 0))
    return sent


def feed_stanzas(chunks: list[bytes]) -> object:
    builder = xmltok.StanzaBuilder()
    return [builder.feed(chunk) for chunk in chunks]


def sink_fields(fields: ET.Element) -> object:
    return list(xmpp_sink.deliveries_from_payload(fields, 1.0, sender="s1", t_request=0.5))


def _show_fields(fields: ET.Element) -> str:
    return repr(ET.tostring(fields))


TARGETS: tuple[Target, ...] = (
    Target("sensniff stream", feed_sensniff, (), chunked(any_bytes(sensniff_seeds())),
           rejects=False),
    Target("sensniff commands", feed_sensniff_commands, (),
           chunked(any_bytes(sensniff_command_seeds(), 64)), rejects=False),
    Target("pcap", lambda data: list(pcapfile.parse_frames(data, "fuzz.pcap")), (BadInput,),
           any_bytes(pcap_seeds())),
    Target("pcapng", lambda data: list(pcapng.iter_packets(data, "fuzz.pcapng")), (BadInput,),
           any_bytes(pcapng_seeds())),
    Target("802.15.4 MAC", decode_mac, (FrameError,),
           any_bytes(psdu_seeds() + contiki_psdus(), 140)),
    Target("IPHC", decompress_iphc, (FrameError,), any_bytes(iphc_seeds(), 140)),
    Target("6LoWPAN header lengths", lowpan_lengths, (FrameError,),
           any_bytes(iphc_seeds(), 140)),
    Target("air analysis", analyze_frames, (), capture_frames(), rejects=False),
    Target("capture totals", totals_of, (BadInput,), any_bytes(contiki_pcap_seeds(), 8192)),
    Target("6LoWPAN receive", deliver_frames, (),
           st.one_of(frame_sequences(), st.lists(st.binary(max_size=130), max_size=4)),
           rejects=False),
    Target("topology YAML", lambda text: parse_topology(text, "fuzz.yaml"), (TopologyError,),
           any_text(topology_seeds())),
    Target("lab YAML", lambda text: parse_lab(text, "fuzz.yaml"), (LabError,),
           any_text(lab_seeds())),
    Target("Energest", energest.parse_energest, (BadInput,), any_text((ENERGEST,)),
           rejects=False),
    Target("meter serial lines", meters.parse_serial_lines, (BadInput,),
           any_text((SERIAL_LINES,)), rejects=False),
    Target("IoT-LAB .oml", meters.parse_oml, (BadInput,), any_text((OML,))),
    Target("PPK2 CSV", lambda text: meters.parse_ppk2_csv(text, voltage_v=3.0), (BadInput,),
           any_text((PPK2_CSV,)), rejects=False),
    Target("PPK2 samples (the lab meter's filter)",
           lambda samples: [meter.finite_sample(v) for v in samples], (), ppk2_stream(),
           rejects=False),
    Target("CoAP sink text reading",
           lambda payload: coap_sink.parse_reading(payload, 0, "temperature"),
           (ValueError,), any_bytes(reading_seeds(), 64)),
    Target("CoAP sink SenML reading",
           lambda payload: coap_sink.parse_reading(payload, 112, "temperature"),
           (ValueError,), st.one_of(any_bytes(reading_seeds(), 64), SENML_PACKS)),
    Target("CoAP sink SenML JSON reading",
           lambda payload: coap_sink.parse_reading(payload, 110, "temperature"),
           (ValueError,), any_bytes(reading_seeds(), 64)),
    Target("XMPP sink fields", sink_fields, (ValueError,), FIELDS_INPUT, _show_fields),
    Target("coap-sensor decode", coap.decode, (coap.FormatError,), any_bytes(coap_seeds())),
    Target("coap-sensor requests", coap_server_receive, (), any_bytes(coap_seeds()),
           rejects=False),
    Target("xmpp-sensor stanzas", feed_stanzas, (ValueError,),
           chunked(any_bytes(stanza_stream_seeds()))),
    Target("xmpp-sensor SCRAM", scram_exchange, (ValueError,), any_bytes((SERVER_FIRST,), 96)),
)
