"""Hand-built traffic for the analysis tests: IPv6 packets, frames by the project's codec, pcap."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

from testbed.lowpan import mac
from testbed.lowpan.adapter import Adapter

PREFIX = IPv6Network("fd00::/64")
ADAPTER = Adapter(0xABCD, "short", PREFIX)


def address(short: int) -> bytes:
    """The node's global address: PAN prefix + IID from its short address (RFC 6282 §3.2.2)."""
    return (PREFIX.network_address + (0xFF_FE00_0000 | short)).packed


CLOUD = IPv6Address("fd01::1").packed


def assert_tiles(spans, length: int) -> None:  # type: ignore[no-untyped-def]
    """`spans` (anything with .start/.end) cover [0, length) edge to edge: every byte once."""
    position = 0
    for span in spans:
        assert span.start == position and span.end > span.start
        position = span.end
    assert position == length


def ipv6(src: bytes, dst: bytes, next_header: int, payload: bytes, hop_limit: int = 64) -> bytes:
    return struct.pack(">IHBB", 0x60000000, len(payload), next_header, hop_limit) + src + dst \
        + payload


def udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    return ipv6(src, dst, 17, struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload)


def tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: str,
        payload: bytes = b"") -> bytes:
    bits = sum({"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}[c] for c in flags)
    header = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, bits, 4000, 0, 0)
    return ipv6(src, dst, 6, header + payload)


class Air:
    """Frames in air order: each data frame followed by its link-layer ACK."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.seq = 0
        self.tag = 1
        self.datagrams: list[int] = []  # frames each datagram took

    def send(self, packet: bytes, src: int, dst: int, *, retry: int | None = None) -> list[bytes]:
        psdus = ADAPTER.to_frames(packet, src, dst, seq=self.seq, tag=self.tag)
        self.tag += 1
        self.datagrams.append(len(psdus))
        for i, psdu in enumerate(psdus):
            self.frames.append(psdu)
            if retry == i:
                self.frames.append(psdu)  # its ACK was lost: the same frame again
            self.frames.append(mac.encode_ack((self.seq + i) & 0xFF))
        self.seq += len(psdus)
        return psdus

    def timed(self) -> list[tuple[float, bytes]]:
        return [(1000.0 + i * 0.01, psdu) for i, psdu in enumerate(self.frames)]

    def write(self, path: Path) -> Path:
        chunks = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 195)]
        for t, psdu in self.timed():
            chunks.append(struct.pack("<IIII", int(t), int(t % 1 * 1e6), len(psdu), len(psdu)))
            chunks.append(psdu)
        path.write_bytes(b"".join(chunks))
        return path


def coap_get(message_id: int, token: bytes, path: str) -> bytes:
    """A CoAP CON GET (RFC 7252 §3): header, token, one Uri-Path option."""
    segment = path.encode()
    return bytes((0x40 | len(token), 0x01)) + message_id.to_bytes(2, "big") + token + bytes(
        (0xB0 | len(segment),)) + segment
