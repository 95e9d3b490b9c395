"""The medium's frame port: a real medium process, Python clients speaking the wire format.

The clients play nodes with their own MAC (as nodes/contiki/platform/medium's radio
driver does): HELLO, then TX of whole frames; the medium answers TX-DONE at the modelled
end of the exchange and hands RX frames to the addressee. tshark reads the capture. No
root needed: frame-port nodes have no namespace.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.lowpan import mac
from testbed.lowpan.addresses import BROADCAST_SHORT, eui64
from testbed.radio import frameport
from testbed.radio.activity import read_activity
from testbed.radio.frameport import MessageType, TxStatus
from tests.radio.test_medium import namespaces  # noqa: F401  (a fixture)

TIMEOUT = 10.0
PAN = 0xABCD


def lowpan(size: int) -> bytes:
    """A 6LoWPAN payload tshark decodes cleanly: dispatch 0x41 (uncompressed IPv6, RFC 4944
    §5.1), fe80::1 -> ff02::1, next header 59 (none) and `size` bytes of padding."""
    header = (b"\x60\x00\x00\x00" + size.to_bytes(2, "big") + b"\x3b\x40"
              + b"\xfe\x80" + bytes(13) + b"\x01" + b"\xff\x02" + bytes(13) + b"\x01")
    return b"\x41" + header + bytes(size)


class Client:
    """One node's end of the frame port."""

    def __init__(self, path: Path, short: int) -> None:
        self.short = short
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(str(path))
        self.sock.send(frameport.encode_hello(short))
        self.seq = 0x40 + short
        self.token = 0

    def recv(self) -> frameport.Message:
        return frameport.decode(self.sock.recv(frameport.MAX_MESSAGE))

    def recv_type(self, kind: MessageType) -> frameport.Message:
        while True:
            message = self.recv()
            if message.type is kind:
                if kind is MessageType.TX_DONE:
                    assert message.token == self.token  # the answer to the last TX
                return message

    def frame(self, dst: int, payload: bytes = lowpan(4), *, extended: bool = False) -> bytes:
        """A data frame without its FCS, as Contiki's framer makes it."""
        self.seq = (self.seq + 1) & 0xFF
        if extended:
            psdu = mac.encode_data(seq=self.seq, pan_id=PAN, dst=eui64(dst),
                                   dst_mode=mac.AddrMode.EXTENDED, src=eui64(self.short),
                                   src_mode=mac.AddrMode.EXTENDED, payload=payload,
                                   ack_request=True)
        else:
            psdu = mac.encode_data(seq=self.seq, pan_id=PAN, dst=dst,
                                   dst_mode=mac.AddrMode.SHORT, src=self.short,
                                   src_mode=mac.AddrMode.SHORT, payload=payload,
                                   ack_request=dst != BROADCAST_SHORT)
        return psdu[:-2]

    def send(self, frame: bytes, *, cca: bool = True) -> None:
        self.token = (self.token + 1) & 0xFF
        self.sock.send(frameport.encode_tx(frame, cca=cca, token=self.token))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def medium(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A medium with three frame-port nodes: a-b (prr 1), a-c (prr 0), b-c (prr 1)."""
    sock = tmp_path / "frames.sock"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "run_id": "fp", "seed": 3, "frame_socket": str(sock),
        "nodes": [{"name": n, "short": s, "port": "frame"}
                  for n, s in (("a", 1), ("b", 2), ("c", 3))],
        "links": [{"a": "a", "b": "b"}, {"a": "a", "b": "c", "prr": 0.0},
                  {"a": "b", "b": "c"}],
        "capture": str(tmp_path / "c.pcap"), "activity": str(tmp_path / "r.csv"),
        "stats": str(tmp_path / "m.json"),
    }))
    process = subprocess.Popen([sys.executable, "-m", "testbed.radio.medium", str(spec)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    files = {"socket": sock, "capture": tmp_path / "c.pcap", "activity": tmp_path / "r.csv",
             "stats": tmp_path / "m.json", "process": process}
    try:
        assert process.stdout.readline().strip() == "READY", process.stderr.read()
        yield files
    finally:
        process.terminate()
        process.wait(TIMEOUT)
        assert not sock.exists(), "the medium leaves no socket behind"


def stop(files: dict[str, object]) -> str:
    process = files["process"]
    process.terminate()
    assert process.wait(TIMEOUT) == 0
    return process.stderr.read()


def test_hello_is_welcomed_and_a_stranger_refused(medium: dict[str, object]) -> None:
    a = Client(medium["socket"], 1)
    welcome = a.recv()
    assert (welcome.type, welcome.channel, welcome.pan_id) == (MessageType.WELCOME, 26, PAN)
    stranger = Client(medium["socket"], 9)
    refused = stranger.recv()
    assert refused.type is MessageType.REFUSED and "0x0009" in refused.reason
    assert stranger.sock.recv(16) == b""  # and closed
    twice = Client(medium["socket"], 1)
    assert "already connected" in twice.recv().reason
    a.close()
    assert "0x0009 is not a frame-port node" in stop(medium)


def test_unicast_acked_noack_on_a_dead_link_and_rx_at_the_addressee(
        medium: dict[str, object]) -> None:
    a, b, c = (Client(medium["socket"], s) for s in (1, 2, 3))
    for client in (a, b, c):
        assert client.recv().type is MessageType.WELCOME
    frame = a.frame(2)
    sent = time.monotonic()
    a.send(frame)
    assert a.recv_type(MessageType.TX_DONE).status is TxStatus.OK
    elapsed = time.monotonic() - sent
    rx = b.recv_type(MessageType.RX)
    assert rx.psdu == frame  # without its FCS, as a radio's FIFO holds it
    # CCA + turnaround + frame + turnaround + ACK: the exchange's modelled length at least
    assert elapsed >= 128e-6 + 192e-6 + (len(frame) + 2 + 6) * 32e-6 + 192e-6 + 352e-6
    # extended destination addresses map through the EUI-64 scheme; a-c never hears
    lost = a.frame(3, extended=True)
    a.send(lost)
    assert a.recv_type(MessageType.TX_DONE).status is TxStatus.NOACK
    a.send(lost)  # its MAC retries the same frame: counted as a retry
    assert a.recv_type(MessageType.TX_DONE).status is TxStatus.NOACK
    # broadcast: no ACK, every neighbour in range gets it
    hello = b.frame(BROADCAST_SHORT)
    b.send(hello)
    assert b.recv_type(MessageType.TX_DONE).status is TxStatus.OK
    assert a.recv_type(MessageType.RX).psdu == hello
    assert c.recv_type(MessageType.RX).psdu == hello
    for client in (a, b, c):
        client.close()
    stop(medium)
    stats = json.loads(Path(medium["stats"]).read_text())
    assert stats["frame_port"]["tx_done"] == {"ok": 2, "noack": 2, "collision": 0, "error": 0}
    assert stats["retries"] == 1 and stats["acks"] == 1
    rows = sorted((r for r in read_activity(medium["activity"]) if r.kind == "tx"),
                  key=lambda r: r.start_s)
    assert [(r.node, r.frame, r.peer, r.status) for r in rows] == [
        ("a", "data", "b", "ok"), ("b", "ack", "a", "ok"), ("a", "data", "c", "no-ack"),
        ("a", "data", "c", "no-ack"), ("b", "data", "broadcast", "ok")]
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed (make system-deps)")
    fields = subprocess.run(
        ["tshark", "-r", str(medium["capture"]), "-T", "fields", "-e", "wpan.frame_type",
         "-e", "wpan.seq_no", "-e", "wpan.fcs_ok", "-e", "_ws.malformed"],
        check=True, capture_output=True, text=True, timeout=60).stdout.split("\n")
    decoded = [line.split("\t") for line in fields if line]
    # data a->b, its ACK (same DSN), the two unACKed frames to c, the broadcast
    assert [(int(t, 16), int(s)) for t, s, *_ in decoded] == [
        (1, frame[2]), (2, frame[2]), (1, lost[2]), (1, lost[2]),
        (1, hello[2])]
    assert all(line[2] in ("1", "True") and line[3] == "" for line in decoded)


def test_cca_on_a_busy_channel_answers_collision(medium: dict[str, object]) -> None:
    a, b, c = (Client(medium["socket"], s) for s in (1, 2, 3))
    for client in (a, b, c):
        assert client.recv().type is MessageType.WELCOME
    # c's TX must reach the medium while b's 4.1 ms frame is on the air; a medium that
    # happens to read both at once (a loaded host) sees c's CCA end before b starts: try again
    outcomes = []
    for _ in range(5):
        b.send(b.frame(BROADCAST_SHORT, lowpan(70)), cca=False)
        time.sleep(0.002)  # b is on the air from 0.19 ms to about 4.3 ms
        c.send(c.frame(2))
        outcomes.append(c.recv_type(MessageType.TX_DONE).status)
        assert b.recv_type(MessageType.TX_DONE).status is TxStatus.OK
        if outcomes[-1] is TxStatus.COLLISION:
            break
        time.sleep(0.01)
    assert outcomes[-1] is TxStatus.COLLISION, outcomes
    for client in (a, b, c):
        client.close()
    stop(medium)
    rows = read_activity(medium["activity"])
    busy = [r for r in rows if r.kind == "cca" and r.status == "busy"]
    assert [r.node for r in busy] == ["c"]
    # nothing of c's went out after its busy CCA; every other try of c's did
    sent = [r for r in rows if r.node == "c" and r.kind == "tx"]
    assert len(sent) == len(outcomes) - 1 and all(r.start_s < busy[0].start_s for r in sent)
    stats = json.loads(Path(medium["stats"]).read_text())
    assert stats["frame_port"]["tx_done"]["collision"] == 1


def test_a_bad_message_is_refused_and_the_medium_goes_on(medium: dict[str, object]) -> None:
    a = Client(medium["socket"], 1)
    assert a.recv().type is MessageType.WELCOME
    a.sock.send(bytes((7, 2, 0)))  # version 7
    refused = a.recv()
    assert refused.type is MessageType.REFUSED and "offset 0: version 7" in refused.reason
    b = Client(medium["socket"], 2)
    assert b.recv().type is MessageType.WELCOME
    b.send(b.frame(BROADCAST_SHORT))
    assert b.recv_type(MessageType.TX_DONE).status is TxStatus.OK
    b.close()
    assert "offset 0: version 7" in stop(medium)


def test_wire_format_round_trip_and_errors() -> None:
    frame = bytes(range(20))
    assert frameport.decode(frameport.encode_tx(frame, cca=True)).psdu == frame
    assert frameport.decode(frameport.encode_rx(frame)).rssi == frameport.RX_RSSI_DBM
    assert frameport.encode_hello(0x0102) == b"\x01\x01\x02\x01"
    assert frameport.encode_tx_done(TxStatus.NOACK, 7) == b"\x01\x82\x01\x07"
    assert frameport.decode(frameport.encode_tx(frame, token=9)).token == 9
    with pytest.raises(frameport.ProtocolError, match="offset 1: unknown message type 0x7f"):
        frameport.decode(b"\x01\x7f")
    with pytest.raises(frameport.ProtocolError, match="offset 4: PSDU of 126 bytes"):
        frameport.decode(frameport.encode_tx(bytes(126)))
    with pytest.raises(frameport.ProtocolError, match="HELLO message truncated"):
        frameport.decode(b"\x01\x01\x02")


def echo_reply(request: bytes) -> bytes:
    """The ICMPv6 echo reply (RFC 4443 §4.2) to an echo request, checksum included."""
    src, dst = request[8:24], request[24:40]
    body = bytearray(request[40:])
    body[0], body[2:4] = 129, b"\x00\x00"
    pseudo = dst + src + len(body).to_bytes(4, "big") + b"\x00\x00\x00\x3a"
    data = pseudo + bytes(body) + (b"\x00" if len(body) % 2 else b"")
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    body[2:4] = (~total & 0xFFFF).to_bytes(2, "big")
    return request[:7] + b"\x40" + dst + src + bytes(body)


@pytest.mark.needs_root
def test_tap_and_frame_nodes_reach_each_other(namespaces: dict[int, str],
                                              tmp_path: Path) -> None:
    """A Linux node (TAP) pings a frame-port node played here with the project's 6LoWPAN
    adapter: the echo request reaches the frame port as a frame, the reply goes back
    through the TAP to the kernel's ping."""
    from ipaddress import IPv6Network

    from testbed.lowpan.adapter import Adapter
    from testbed.lowpan.addresses import link_local, mac48_text
    from testbed.lowpan.fcs import fcs_bytes

    from tests.radio.test_medium import wait_link_local, wait_ready

    sock = tmp_path / "frames.sock"
    (tmp_path / "spec.json").write_text(json.dumps({
        "run_id": "mixed", "frame_socket": str(sock), "seed": 2,
        "nodes": [{"name": "a", "short": 1, "netns": namespaces[1]},
                  {"name": "b", "short": 2, "port": "frame"}],
        "links": [{"a": "a", "b": "b"}],
        "capture": str(tmp_path / "c.pcap"), "activity": str(tmp_path / "r.csv"),
        "stats": str(tmp_path / "m.json"),
    }))
    # no neighbour discovery from the played node: a static entry, as the backend installs
    subprocess.run(["ip", "-n", namespaces[1], "neigh", "replace", str(link_local(2)),
                    "lladdr", mac48_text(2), "dev", "wpan0", "nud", "permanent"],
                   check=True, capture_output=True, timeout=TIMEOUT)
    medium = subprocess.Popen([sys.executable, "-m", "testbed.radio.medium",
                               str(tmp_path / "spec.json")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(medium, TIMEOUT)
        wait_link_local(namespaces[1], 1)
        b = Client(sock, 2)
        assert b.recv().type is MessageType.WELCOME
        ping = subprocess.Popen(["ip", "netns", "exec", namespaces[1], "ping", "-6", "-n", "-c",
                                 "2", "-i", "0.3", "-W", "3", f"{link_local(2)}%wpan0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        adapter = Adapter(PAN, "short", IPv6Network("fd00::/64"))
        answered = 0
        while answered < 2:
            rx = b.recv_type(MessageType.RX)
            packet = adapter.deliver(rx.psdu + fcs_bytes(rx.psdu), time.monotonic())
            if packet is None or packet[6] != 58 or packet[40] != 128:
                continue  # not (yet) an echo request: a fragment, or the kernel's RS
            for frame in adapter.to_frames(echo_reply(packet), 2, 1, seq=b.seq + 1,
                                           tag=answered):
                b.seq = frame[2]
                # the medium ACKs the request on b's behalf right after it: a TX at once
                # finds b's radio busy (COLLISION), and b backs off as a CSMA would
                for _ in range(5):
                    b.send(frame[:-2])
                    status = b.recv_type(MessageType.TX_DONE).status
                    if status is not TxStatus.COLLISION:
                        break
                    time.sleep(0.002)
                assert status is TxStatus.OK
            answered += 1
        output = ping.communicate(timeout=TIMEOUT)[0]
        assert ping.returncode == 0 and " 0% packet loss" in output, output
        b.close()
        medium.send_signal(signal.SIGTERM)
        assert medium.wait(TIMEOUT) == 0, medium.stderr.read()
    finally:
        if medium.poll() is None:
            medium.kill()
            medium.wait(TIMEOUT)
    rows = read_activity(tmp_path / "r.csv")
    sent = {(r.node, r.frame) for r in rows if r.kind == "tx" and r.status == "ok"}
    assert {("a", "data"), ("b", "data"), ("a", "ack"), ("b", "ack")} <= sent
