"""Per-frame cost of the 6LoWPAN/802.15.4 codec, ours against scapy, in one process.

Not a test: run `python benchmarks/bench_codec.py` and read the table. For each
datagram, one "round" is what the radio medium does per packet: IPHC compress +
fragment + MAC frame + FCS on the sender, then FCS check + MAC decode + reassemble +
decompress on the receiver. The cost is reported per frame (round time / frames)
and as a ratio to scapy doing the same work (scapy 2.8 has no IPHC-aware
fragmenter, so the scapy side cuts the IPHC bytes at the same places by hand and
reassembles by concatenation under the first frame's MAC header, as a user would).
Goal from the issue: <= 50 us per frame and >= 20x faster than scapy.
"""

from __future__ import annotations

import struct
import sys
import time
from ipaddress import IPv6Network

from scapy.config import conf
from scapy.layers.dot15d4 import Dot15d4Data, Dot15d4FCS
from scapy.layers.inet6 import IPv6
from scapy.layers.sixlowpan import (
    LoWPAN_IPHC,
    LoWPAN_NHC,
    LoWPANFragmentationFirst,
    LoWPANFragmentationSubsequent,
)
from scapy.packet import Raw

from testbed.lowpan.adapter import Adapter
from testbed.lowpan.addresses import link_local

conf.dot15d4_protocol = "sixlowpan"
PAN_ID = 0xABCD
SRC, DST = 1, 2


def udp_datagram(size: int) -> bytes:
    data = bytes(i & 0xFF for i in range(size - 48))
    upper = struct.pack(">HHHH", 50000, 5683, 8 + len(data), 0x1234) + data
    return (struct.pack(">IHBB", 0x60000000, len(upper), 17, 64)
            + link_local(SRC).packed + link_local(DST).packed + upper)


def tcp_datagram(size: int) -> bytes:
    upper = struct.pack(">HHIIBBHHH", 40000, 5222, 1, 2, 0x50, 0x18, 512, 0, 0)
    upper += bytes(i & 0xFF for i in range(size - 60))
    return (struct.pack(">IHBB", 0x60000000, len(upper), 6, 64)
            + link_local(SRC).packed + link_local(DST).packed + upper)


def ours_round(sender: Adapter, receiver: Adapter, packet: bytes) -> int:
    psdus = sender.to_frames(packet, SRC, DST, seq=1, tag=7)
    for psdu in psdus:
        out = receiver.deliver(psdu, 0.0)
    assert out == packet
    return len(psdus)


def scapy_round(packet: bytes, sizes: list[int]) -> int:
    """Same work with scapy; `sizes` = IPHC bytes per fragment (0 = unfragmented)."""
    ip = IPv6(packet)
    iphc = LoWPAN_IPHC(tf=3, nh=int(ip.nh == 17), hlim=2, sam=3, dam=3)
    compressed = bytes(iphc / LoWPAN_NHC() / ip if ip.nh == 17 else iphc / ip)
    mac_layers = (Dot15d4FCS(fcf_frametype=1, fcf_panidcompress=1, fcf_ackreq=1,
                             fcf_destaddrmode=2, fcf_srcaddrmode=2, seqnum=1)
                  / Dot15d4Data(dest_panid=PAN_ID, dest_addr=DST, src_addr=SRC))
    if not sizes:
        psdus = [bytes(mac_layers / Raw(compressed))]
    else:
        psdus, pos, offset = [], 0, 0
        for i, n in enumerate(sizes):
            chunk = compressed[pos:pos + n]
            if i == 0:
                head = LoWPANFragmentationFirst(datagramSize=len(packet), datagramTag=7)
                offset = len(packet) - (len(compressed) - n)  # uncompressed bytes covered
            else:
                head = LoWPANFragmentationSubsequent(datagramSize=len(packet), datagramTag=7,
                                                     datagramOffset=offset // 8)
                offset += n
            psdus.append(bytes(mac_layers / head / Raw(chunk)))
            pos += n
    # Receive: parse every frame, reassemble the IPHC bytes, decompress under a MAC header.
    parsed = [Dot15d4FCS(p) for p in psdus]
    if sizes:
        body = b"".join(bytes(f[LoWPANFragmentationFirst if i == 0 else
                                LoWPANFragmentationSubsequent].payload)
                        for i, f in enumerate(parsed))
        whole = Dot15d4FCS(psdus[0][:9] + body + b"\0\0")
    else:
        whole = parsed[0]
    assert bytes(whole[IPv6]) == packet
    return len(psdus)


def fragment_sizes(sender: Adapter, packet: bytes) -> list[int]:
    payloads = sender.to_payloads(packet, SRC, DST, tag=7)
    if len(payloads) == 1:
        return []
    return [len(payloads[0]) - 4] + [len(p) - 5 for p in payloads[1:]]


def per_frame_us(round_fn, frames: int, seconds: float = 1.0) -> float:
    best = float("inf")
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 5:
            round_fn()
            n += 1
        best = min(best, elapsed / n)
    return best / frames * 1e6


def main() -> int:
    sender = Adapter(PAN_ID, "short", IPv6Network("fd00::/64"))
    receiver = Adapter(PAN_ID, "short", IPv6Network("fd00::/64"))
    print(f"python {sys.version.split()[0]}; one round = encode + fragment + MAC + FCS + "
          "decode + reassemble")
    print(f"{'datagram':<22}{'frames':>7}{'ours us/frame':>15}{'scapy us/frame':>16}{'ratio':>8}")
    ok = True
    for name, packet in (("UDP 60 B", udp_datagram(60)), ("TCP 300 B", tcp_datagram(300))):
        frames = ours_round(sender, receiver, packet)
        sizes = fragment_sizes(sender, packet)
        assert scapy_round(packet, sizes) == frames
        ours = per_frame_us(lambda: ours_round(sender, receiver, packet), frames)
        theirs = per_frame_us(lambda: scapy_round(packet, sizes), frames)
        ratio = theirs / ours
        ok &= ours <= 50 and ratio >= 20
        print(f"{name:<22}{frames:>7}{ours:>15.1f}{theirs:>16.1f}{ratio:>7.0f}x")
    print("goal (<= 50 us/frame, >= 20x scapy):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
