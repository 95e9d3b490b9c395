"""Consoles of Contiki nodes: lines and events from a real process on a pty; SLIP both ways.

The SLIP tests use a SOCK_SEQPACKET socketpair where the border router's TUN would be: it
keeps packet boundaries as a TUN does. The TUN itself needs a namespace; the Contiki border
router's end-to-end test exercises it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from ipaddress import IPv6Network
from pathlib import Path

import sliplib
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.backends.console import END, ConsoleHub, LineConsole, SlipConsole, open_pty

PREFIX = IPv6Network("fd00::/64")


def _wait_for(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_process_on_the_pty_gives_every_line_to_the_log_and_event_lines_to_the_events(
    tmp_path: Path,
) -> None:
    hub = ConsoleHub().start()
    master, slave = open_pty()
    console = LineConsole("s1", tmp_path / "s1.console", tmp_path / "s1.jsonl")
    hub.add("s1", master, console)
    event = json.dumps({"event": "reading", "seq": 1, "value": 22.5})
    text = f"[INFO: App] booting\r\n{event}\r\n{{not json\n{{\"x\": 1}}\nlast line, no newline"
    child = subprocess.Popen(["printf", "%s", text], stdin=slave, stdout=slave)
    os.close(slave)
    child.wait(timeout=5)
    _wait_for(lambda: console.lines >= 4)
    hub.close()
    lines = (tmp_path / "s1.console").read_text().splitlines()
    assert lines == ["[INFO: App] booting", event, "{not json", '{"x": 1}', "last line, no newline"]
    assert (tmp_path / "s1.jsonl").read_text().splitlines() == [event]


def test_the_hub_writes_to_the_nodes_input(tmp_path: Path) -> None:
    """What a shell command typed on the console does: `head -n1` echoes the line back."""
    hub = ConsoleHub().start()
    master, slave = open_pty()
    console = LineConsole("s1", tmp_path / "s1.console", tmp_path / "s1.jsonl")
    hub.add("s1", master, console)
    child = subprocess.Popen(["head", "-n", "1"], stdin=slave, stdout=slave)
    os.close(slave)
    hub.write("s1", b"help\n")
    child.wait(timeout=5)
    _wait_for(lambda: console.lines >= 1)
    hub.close()
    assert (tmp_path / "s1.console").read_text() == "help\n"


def _slip(tmp_path: Path) -> tuple[SlipConsole, socket.socket, list[bytes]]:
    tun, far = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    tun.setblocking(False)
    written: list[bytes] = []
    console = SlipConsole("br", tmp_path / "br.console", tmp_path / "br.jsonl", tun=tun.fileno(),
                          prefix=PREFIX, write=written.append)
    console._keep = tun  # type: ignore[attr-defined]  # the fd lives as long as the console
    return console, far, written


ipv6_packets = st.binary(min_size=40, max_size=300).map(lambda b: bytes((0x60 | (b[0] & 0x0F),)) + b[1:])
text_chunks = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(text_chunks, ipv6_packets), max_size=6), st.integers(1, 64))
def test_slip_frames_reach_the_tun_in_order_and_text_between_them_is_the_log(
    tmp_path_factory, items: list[tuple[str, bytes]], chunk: int
) -> None:
    tmp_path = tmp_path_factory.mktemp("slip")
    console, far, _ = _slip(tmp_path)
    stream = b"".join(text.encode() + b"\n" + bytes((END,)) + sliplib.encode(packet) + bytes((END,))
                      for text, packet in items)
    for i in range(0, len(stream), chunk):  # a serial line delivers any split
        console.feed(stream[i:i + chunk])
    console.close()
    far.setblocking(False)
    received = []
    while True:
        try:
            received.append(far.recv(65536))
        except BlockingIOError:
            break
    assert received == [packet for _, packet in items]
    log = (tmp_path / "br.console").read_text().splitlines()
    assert log == [text for text, _ in items]


def test_the_prefix_request_is_answered_with_the_pan_prefix(tmp_path: Path) -> None:
    console, _, written = _slip(tmp_path)
    console.feed(bytes((END,)) + b"?P" + bytes((END,)))
    (answer,) = written
    assert answer[0] == answer[-1] == END
    assert sliplib.decode(answer[1:-1]) == b"!P" + bytes.fromhex("fd00000000000000")
    assert console.stats["prefix_requests"] == 1


def test_packets_from_the_tun_go_to_the_node_slip_framed(tmp_path: Path) -> None:
    console, far, written = _slip(tmp_path)
    packet = bytes((0x60,)) + bytes(39) + b"\xc0\xdb payload"
    far.send(packet)
    far.send(b"\x45not ipv6")  # an IPv4 packet: not for a 6LoWPAN PAN
    _wait_for(lambda: (console.from_tun(), written)[1] != [])
    assert written == [bytes((END,)) + sliplib.encode(packet) + bytes((END,))]
    assert console.stats["from_tun"] == 1
