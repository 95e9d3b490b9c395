"""Bulk capture totals: testbed.analysis against tshark, on a >= 1,000,000-frame capture.

Not a test: run `python benchmarks/bench_analysis.py [FRAMES]` and read the lines. It writes
a LINKTYPE 195 pcap of a realistic mix (CoAP notifications and empty ACKs, XMPP stanzas over
TCP in FRAG1/FRAGN fragments, TCP pure ACKs, a MAC retransmission, link-layer ACKs after
every data frame), built with the project's codec once for 256 tags/sequence numbers and
then repeated with fresh timestamps (written directly, no per-frame encoding). Then it
computes the same totals both ways in the same run: frames, PSDU bytes (frame.len), TCP
payload (tcp.len) and UDP payload (udp.length - 8), checks they agree to the byte, and
prints seconds and the ratio. Goal (issue 03): as fast as tshark or faster. Last, the full
attribution: `testbed analyze` against tshark on a 300k-frame capture (bench_analyze_cli.py;
goal, issue 06: ratio ours/tshark <= 1.0).
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

from testbed.analysis.totals import capture_totals
from testbed.lowpan import mac
from testbed.lowpan.adapter import Adapter

PREFIX = IPv6Network("fd00::/64")
CLOUD = IPv6Address("fd01::1").packed
PAN_ID = 0xABCD


def _ipv6(src: bytes, dst: bytes, next_header: int, payload: bytes) -> bytes:
    return struct.pack(">IHBB", 0x60000000, len(payload), next_header, 64) + src + dst + payload


def _udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    return _ipv6(src, dst, 17, struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload)


def _tcp(src: bytes, dst: bytes, seq: int, ack: int, payload: bytes) -> bytes:
    header = struct.pack(">HHIIBBHHH", 40000, 5222, seq, ack, 5 << 4, 0x18, 4000, 0, 0)
    return _ipv6(src, dst, 6, header + payload)


def _block(round_: int) -> list[bytes]:
    """One round of traffic between sensor 2 and the border router 1 (PSDUs in air order)."""
    a = Adapter(PAN_ID, "short", PREFIX)
    sensor = (PREFIX.network_address + 0xFF_FE00_0002).packed
    seq = round_ * 16
    out: list[bytes] = []

    def send(packet: bytes, src: int, dst: int, tag: int) -> None:
        nonlocal seq
        for psdu in a.to_frames(packet, src, dst, seq=seq, tag=tag):
            out.append(psdu)
            out.append(mac.encode_ack(seq & 0xFF))
            seq += 1

    coap = bytes((0x51, 0x45, round_ >> 8 & 0xFF, round_ & 0xFF, 0xAB, 0x61, round_ & 0xFF,
                  0xFF)) + f"seq={round_} t=1795673087.292 v=20.7".encode()
    send(_udp(sensor, CLOUD, 5683, 5683, coap), 2, 1, 0)
    send(_udp(CLOUD, sensor, 5683, 5683, bytes((0x60, 0, round_ >> 8 & 0xFF, round_ & 0xFF))),
         1, 2, 0)
    stanza = (f"<message to='sink@iot.testbed' id='m{round_}'><fields "
              f"xmlns='urn:xmpp:iot:sensordata' seqnr='{round_}'><node nodeId='s1'>"
              "<timestamp value='2026-11-26T06:04:41Z'>"
              "<numeric name='temperature' momentary='true' value='20.7' unit='C'/></timestamp>"
              "</node></fields></message>").encode() * 2
    send(_tcp(sensor, CLOUD, 1000 + round_ * 1000, 1, stanza), 2, 1, round_ & 0xFFFF)
    send(_tcp(CLOUD, sensor, 1, 1000 + round_ * 1000 + len(stanza), b""), 1, 2, 0)
    out.insert(5, out[4])  # a MAC retransmission (same frame again, its ACK was lost)
    return out


def write_capture(path: Path, frames: int) -> int:
    blocks = [_block(r) for r in range(256)]
    base = [psdu for block in blocks for psdu in block]
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 195)
    chunks = [head]
    usec = 0
    written = 0
    record = struct.Struct("<IIII")
    while written < frames:
        for psdu in base:
            usec += 1500
            chunks.append(record.pack(1795673000 + usec // 1_000_000, usec % 1_000_000,
                                      len(psdu), len(psdu)))
            chunks.append(psdu)
        written += len(base)
    path.write_bytes(b"".join(chunks))
    return written


def tshark_totals(path: Path) -> tuple[int, int, int, int, int]:
    argv = ["tshark", "-n", "-r", str(path), "--disable-protocol", "zbee_nwk",
            "-o", "6lowpan.context0:fd00::/64", "-T", "fields", "-E", "separator=,",
            "-e", "frame.len", "-e", "wpan.frame_type", "-e", "tcp.len", "-e", "udp.length"]
    frames = total = acks = tcp = udp = 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as p:
        assert p.stdout is not None
        for line in p.stdout:
            length, kind, tcp_len, udp_len = line.rstrip("\n").split(",")
            frames += 1
            total += int(length)
            acks += kind == "0x0002"
            if tcp_len:
                tcp += int(tcp_len)
            if udp_len:
                udp += int(udp_len) - 8
    return frames, total, acks, tcp, udp


def main() -> None:
    wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        path = Path(tmp) / "bulk.pcap"
        t0 = time.perf_counter()
        n = write_capture(path, wanted)
        print(f"capture: {n} frames, {path.stat().st_size / 1e6:.1f} MB, "
              f"written in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        ours = capture_totals(path)
        ours_s = time.perf_counter() - t0
        print(f"testbed.analysis totals: {ours_s:.2f} s ({ours_s / n * 1e6:.2f} µs/frame) {ours}")
        t0 = time.perf_counter()
        theirs = tshark_totals(path)
        tshark_s = time.perf_counter() - t0
        print(f"tshark -T fields:        {tshark_s:.2f} s ({tshark_s / n * 1e6:.2f} µs/frame) "
              f"frames={theirs[0]} bytes={theirs[1]} acks={theirs[2]} tcp={theirs[3]} "
              f"udp={theirs[4]}")
        same = (ours.frames, ours.bytes, ours.ack_frames, ours.tcp_payload,
                ours.udp_payload) == theirs
        print(f"agree to the byte: {same}; ratio tshark/ours = {tshark_s / ours_s:.1f}x")
    # the full attribution, end to end as the CLI runs it, against tshark (issue 06)
    from bench_analyze_cli import compare

    if not compare(300_000, 3) or not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
