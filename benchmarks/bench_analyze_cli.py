"""`testbed analyze FILE` against tshark on the same 300k-frame capture, for the same work.

Not a test: run `python benchmarks/bench_analyze_cli.py [FRAMES] [ROUNDS]` and read the lines.
It writes the capture with bench_analysis.write_capture (6LoWPAN fragments, ACKs, CoAP, XMPP
over TCP, a MAC retry), then, ROUNDS times in alternating order, runs as child processes of this
one:
  ours:   `testbed analyze FILE --json`: the CLI end to end, interpreter start-up and imports
          included (every frame decoded to the transport layer, FCS checked, TCP streams
          reassembled, XMPP/CoAP attributed per reading, the JSON printed);
  tshark: `tshark -r FILE -T fields -e frame.len -e 6lowpan.pattern -e tcp.len -e udp.length`
          with its default preferences, which dissect every frame to TCP/UDP, check the FCS,
          reassemble 6LoWPAN and TCP (tcp.desegment_tcp_streams, xmpp.desegment: printed below).
It prints wall and CPU seconds (user + system of the child) for each, the ratio ours/tshark
(goal, issue 06: <= 1.0), the in-process time of analyze_capture (start-up excluded), and
checks both tools agree on frames, TCP payload and UDP payload to the byte.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_analysis import write_capture

from testbed.analysis.account import analyze_capture

FIELDS = ["frame.len", "6lowpan.pattern", "tcp.len", "udp.length"]
PREFS = ("tcp.desegment_tcp_streams", "tcp.analyze_sequence_numbers", "xmpp.desegment",
         "wpan.802154_fcs_ok", "ipv6.defragment")


def _timed(argv: list[str]) -> tuple[float, float, bytes]:
    """(wall s, CPU s of the child, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True
                         ).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def _tshark_totals(out: bytes) -> tuple[int, int, int]:
    frames = tcp = udp = 0
    for line in out.decode().splitlines():
        _length, _pattern, tcp_len, udp_len = line.split("\t")
        frames += 1
        tcp += int(tcp_len) if tcp_len else 0
        udp += int(udp_len) - 8 if udp_len else 0
    return frames, tcp, udp


def _range(values: list[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def compare(wanted: int = 300_000, rounds: int = 3) -> bool:
    """Print the figures (see the module docstring); whether both tools agree to the byte."""
    script = Path(sys.executable).parent / "testbed"  # what a user types, from this env
    testbed = [str(script)] if script.exists() else [sys.executable, "-m", "testbed.cli"]
    prefs = subprocess.run(["tshark", "-G", "currentprefs"], capture_output=True, text=True
                           ).stdout.splitlines()
    shown = [line.lstrip("#") for line in prefs if line.lstrip("#").split(":")[0] in PREFS]
    print("tshark preferences (defaults, untouched):", "; ".join(shown))
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        path = Path(tmp) / "capture.pcap"
        n = write_capture(path, wanted)
        print(f"capture: {n} frames, {path.stat().st_size / 1e6:.1f} MB")
        ours_argv = testbed + ["analyze", str(path), "--json"]
        tshark_argv = ["tshark", "-r", str(path), "-T", "fields"] + [
            a for f in FIELDS for a in ("-e", f)]
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        inproc: list[float] = []
        report = tshark_out = b""
        for r in range(rounds):
            order = ("ours", "tshark") if r % 2 == 0 else ("tshark", "ours")
            for who in order:
                if who == "ours":
                    wall, cpu, report = _timed(ours_argv)
                    ours.append((wall, cpu))
                else:
                    wall, cpu, tshark_out = _timed(tshark_argv)
                    theirs.append((wall, cpu))
            t0 = time.perf_counter()
            analyze_capture(path)
            inproc.append(time.perf_counter() - t0)
            print(f"round {r + 1}: ours {ours[-1][0]:.2f} s wall {ours[-1][1]:.2f} s CPU, "
                  f"tshark {theirs[-1][0]:.2f} s wall {theirs[-1][1]:.2f} s CPU, "
                  f"ratio ours/tshark {ours[-1][0] / theirs[-1][0]:.2f} wall "
                  f"{ours[-1][1] / theirs[-1][1]:.2f} CPU; analyze_capture in process "
                  f"{inproc[-1]:.2f} s")
        air = json.loads(report)
        frames, tcp, udp = _tshark_totals(tshark_out)
        same = (air["frames"], air["payload"]["tcp"], air["payload"]["udp"]) == (frames, tcp, udp)
        print(f"agree to the byte: {same} (frames {frames}, tcp.len {tcp}, udp payload {udp})")
        us = 1e6 / n
        print(f"ours (testbed analyze, start-up included): {_range([w * us for w, _ in ours], 1)}"
              f" µs/frame wall, {_range([c * us for _, c in ours], 1)} µs/frame CPU")
        print(f"ours in process (analyze_capture):         {_range([t * us for t in inproc], 1)}"
              " µs/frame wall")
        print(f"tshark -T fields:                          "
              f"{_range([w * us for w, _ in theirs], 1)} µs/frame wall, "
              f"{_range([c * us for _, c in theirs], 1)} µs/frame CPU")
        print(f"ratio ours/tshark: {_range([o[0] / t[0] for o, t in zip(ours, theirs)])} wall, "
              f"{_range([o[1] / t[1] for o, t in zip(ours, theirs)])} CPU (goal <= 1.0)")
        return same


def main() -> None:
    wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not compare(wanted, rounds):
        sys.exit(1)


if __name__ == "__main__":
    main()
