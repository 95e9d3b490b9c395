"""`testbed sniff`: replay and live serial, the pcap it writes, Ctrl-C, bad input."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from testbed.capture.frames import SniffedFrame, write_pcap
from testbed.capture.pcapfile import read_frames
from testbed.capture.sensniff_pty import SensniffPty
from testbed.lowpan.mac import AddrMode, encode_ack, encode_data

TESTBED = [sys.executable, "-m", "testbed.cli"]
FRAMES = [encode_data(seq=s, pan_id=0xABCD, dst=0xFFFF if s == 3 else 2, dst_mode=AddrMode.SHORT,
                      src=1, src_mode=AddrMode.SHORT, payload=b"\x41" + bytes(s * 10),
                      ack_request=s != 3) for s in (1, 2, 3)] + [encode_ack(2)]


def cli(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TESTBED, *args], capture_output=True, text=True, timeout=60, **kw)


def test_replay_prints_one_line_per_frame_and_writes_the_pcap(tmp_path: Path):
    source = tmp_path / "in.pcap"
    write_pcap([SniffedFrame(100 + i / 10, f, "t") for i, f in enumerate(FRAMES)], source)
    out = tmp_path / "out.pcap"
    done = cli("sniff", "--pcap", str(source), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(FRAMES)
    assert "0x0001 -> 0x0002" in lines[0] and "#1" in lines[0] and "[ack requested]" in lines[0]
    assert "broadcast" in lines[2] and lines[3].split()[-1] == "Ack"
    assert lines[1].split()[0] == "0.100000"
    assert f"{len(FRAMES)} frames written to {out}" in done.stderr
    assert [f.psdu for f in read_frames(out)] == FRAMES
    if shutil.which("tshark"):
        seqs = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "wpan.seq_no"],
                              capture_output=True, text=True, check=True).stdout.split()
        assert seqs == ["1", "2", "3", "2"]


def test_count_stops_early(tmp_path: Path):
    source = tmp_path / "in.pcap"
    write_pcap([SniffedFrame(1.0, f, "t") for f in FRAMES], source)
    done = cli("sniff", "--pcap", str(source), "--out", str(tmp_path / "o.pcap"), "--count", "2")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2
    assert len(read_frames(tmp_path / "o.pcap")) == 2


@pytest.mark.parametrize(("args", "message"), [
    ([], "give exactly one source"),
    (["--pcap", "a.pcap", "--serial", "/dev/null"], "give exactly one source"),
    (["--pcap", "in.pcap", "--channel", "20"], "needs --serial"),
    (["--pcap", "in.pcap", "--out", "in.pcap"], "would overwrite"),
    (["--pcap", "damaged.pcap"], r"damaged.pcap: offset 40: truncated frame"),
    (["--serial", "/nonexistent/tty"], "cannot open the sniffer's serial port"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str):
    write_pcap([SniffedFrame(1.0, f, "t") for f in FRAMES], tmp_path / "in.pcap")
    (tmp_path / "damaged.pcap").write_bytes((tmp_path / "in.pcap").read_bytes()[:50])
    done = cli("sniff", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert re.search(message, done.stderr), done.stderr


def test_live_serial_with_channel_then_ctrl_c_stops_cleanly(tmp_path: Path):
    peripheral = SensniffPty(tmp_path / "sniffer", channel=26).open()
    stop = threading.Event()
    answering = threading.Thread(target=lambda: [peripheral.poll() for _ in iter(
        lambda: stop.wait(0.01), True)])
    answering.start()
    out = tmp_path / "live.pcap"
    process = subprocess.Popen([*TESTBED, "sniff", "--serial", str(peripheral.link),
                                "--channel", "26", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "sniffing on channel 26" not in said:
            if select.select([process.stderr], [], [], 0.05)[0]:
                said += os.read(process.stderr.fileno(), 4096).decode(errors="replace")
        for frame in FRAMES:
            peripheral.write(frame)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not out.exists() or len(read_frames(out)) < 4):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        stop.set()
        answering.join()
        peripheral.close()
    assert process.returncode == 0, stderr
    assert len(stdout.splitlines()) == 4
    assert "stopped" in stderr and "4 frames written" in stderr
    assert [f.psdu for f in read_frames(out)] == FRAMES



def test_the_totals_line_is_what_tshark_counts(tmp_path: Path):
    """A hand-built XMPP session (6LoWPAN fragments, a MAC retry, a TCP retransmission): the
    totals `sniff` prints after writing equal tshark's frame.len, ACK frames, tcp.len and
    udp.length - 8 summed over the pcap it wrote."""
    from tests.analysis.frames import CLOUD, Air, address, udp
    from tests.analysis.sessions import SENSOR, xmpp_session

    air = Air()
    xmpp_session(air)
    air.send(udp(address(SENSOR), CLOUD, 5683, 5683, b"\x50\x01\x00\x01"), SENSOR, 1)
    source = air.write(tmp_path / "in.pcap")
    out = tmp_path / "out.pcap"
    done = cli("sniff", "--pcap", str(source), "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in subprocess.run(
        ["tshark", "-n", "-r", str(out), "-o", "6lowpan.context0:fd00::/64", "-T", "fields",
         "-E", "separator=\t", "-e", "frame.len", "-e", "wpan.frame_type", "-e", "tcp.len",
         "-e", "udp.length"], capture_output=True, text=True, check=True).stdout.splitlines()]
    frames, psdu = len(rows), sum(int(r[0]) for r in rows)
    acks = sum(r[1] == "0x0002" for r in rows)
    tcp = sum(int(r[2]) for r in rows if r[2])
    udp_payload = sum(int(r[3]) - 8 for r in rows if r[3])
    assert tcp > 0 and udp_payload == 4
    assert (f"totals: {frames} frames ({acks} ACKs), {psdu:,} bytes PSDU; TCP payload "
            f"{tcp:,} B, UDP payload {udp_payload:,} B") in done.stderr
