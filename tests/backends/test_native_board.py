"""The contiki-native board: medium-platform firmware behind a pty, flashed over its bootloader.

Real parts: Contiki-NG's router and border router built for TARGET=medium
(testbed.contiki.build), a real medium process for their radio, `serve` processes playing the
boards, the flasher run by flash.py's CommandFlasher with the argv a lab file names, pyserial
on the board's port. One test double: a shell-script "firmware" that echoes its console
(`exec cat`), since no Contiki app echoes raw bytes; it shows what reaches the firmware.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.backends.flash import CommandFlasher
from testbed.backends.native_board import (
    MAGIC, BootloaderClient, BootloaderParser, Command, Image, Passthrough, command_bytes,
    parse_command, reset_console, serve_argv,
)
from testbed.backends.processes import dies_with_parent
from testbed.config.lab import Board
from testbed.errors import FlashError, TestbedError

FLASHER = (sys.executable, "-m", "testbed.backends.native_board", "flash", "{port}", "{image}")
ECHO = b"#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/environ; echo ENV-END\nexec cat\n"
BOOT_S = 10.0
SHORTS = itertools.count()

# --- the parser: pure, any byte stream ----------------------------------------------------------


def feed_chunked(parser: BootloaderParser, data: bytes, cuts: list[int]) -> list:
    events, start = [], 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        events += parser.feed(data[start:cut])
        start = cut
    return events


def merged(events: list) -> list:
    """Adjacent Passthrough events joined (chunking splits them anywhere)."""
    out: list = []
    for event in events:
        if isinstance(event, Passthrough) and out and isinstance(out[-1], Passthrough):
            out[-1] = Passthrough(out[-1].data + event.data)
        elif not (isinstance(event, Passthrough) and not event.data):
            out.append(event)
    return out


def slip(packet: bytes) -> bytes:
    """RFC 1055 with Contiki's leading END."""
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=8))
def test_a_stream_without_the_magic_is_relayed_unchanged_however_it_is_cut(data, cuts) -> None:
    parser = BootloaderParser()
    events = feed_chunked(parser, data, cuts)
    if MAGIC in data:
        return
    assert all(isinstance(e, Passthrough) for e in events)
    assert b"".join(e.data for e in events) + parser.held == data
    assert len(parser.held) <= 3  # only what may still become 00 'TB-' waits


#: payload bytes that would fool a weaker escape (after LF, after END, at any NUL)
lures = st.sampled_from([b"\x00TB-RESET\n", b"\n\x00TB-HOLD\n", b"\xc0\x00TB-RESET\n",
                         b"\xdb\xc0\x00TB-INFO\n"])
ipv6_packets = st.builds(lambda first, rest: bytes([0x60 | first]) + rest, st.integers(0, 15),
                         st.binary(max_size=120)
                         | st.tuples(st.binary(max_size=40), lures, st.binary(max_size=40))
                         .map(b"".join))
control_messages = st.sampled_from([b"?P", b"!P\xfd\x00\x00\x00\x00\x00\x00\x00", b"?M"])
console_lines = st.text(max_size=40).map(lambda t: t.encode() + b"\n")


@settings(max_examples=300, deadline=None)
@given(st.lists(ipv6_packets.map(slip) | control_messages.map(slip) | console_lines,
                max_size=12), st.lists(st.integers(0, 2000), max_size=8))
def test_slip_traffic_and_console_text_never_trigger_a_command(pieces, cuts) -> None:
    """IPv6 packets holding NULs, C0 and even the magic's bytes, Contiki's SLIP control
    messages and UTF-8 lines: SLIP escapes C0 inside a frame, UTF-8 never holds C0."""
    data = b"".join(pieces)
    parser = BootloaderParser()
    events = feed_chunked(parser, data, cuts)
    assert all(isinstance(e, Passthrough) for e in events)
    assert b"".join(e.data for e in events) + parser.held == data
    assert parser.held == b""  # every piece ends in END or a newline: nothing waits


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60).filter(lambda b: b"\xc0" not in b), st.binary(max_size=2000),
       st.binary(max_size=60).filter(lambda b: b"\xc0" not in b),
       st.lists(st.integers(0, 3000), max_size=8))
def test_a_boot_command_carries_any_image_between_console_bytes(before, image, after, cuts):
    sha = hashlib.sha256(image).hexdigest()
    data = before + command_bytes("BOOT", len(image), sha) + image + after
    events = merged(feed_chunked(BootloaderParser(), data, cuts))
    expected = [Passthrough(before + b"\xc0"), Command("BOOT", size=len(image), sha256=sha),
                Image(image, sha), Passthrough(after)]
    assert events == [e for e in expected if not (isinstance(e, Passthrough) and not e.data)]


def test_bad_command_lines_are_answered_not_relayed() -> None:
    assert parse_command(b"BOOT 12") == Command("ERROR", reason=(
        "expected BOOT <size> <sha256 hex, lower case>"))
    assert parse_command(b"FORMAT").reason == "unknown command 'FORMAT'"
    assert parse_command(b"RESET now").reason == "RESET takes no arguments"
    parser = BootloaderParser()
    assert parser.feed(b"ls\n" + MAGIC + b"X" * 200) == [Passthrough(b"ls\n\xc0"), Command(
        "ERROR", reason="command line longer than 100 bytes")]
    assert parser.feed(b"Y" * 50) == []  # the rest of that line is dropped too
    assert parser.feed(b"YY\nhelp\n") == [Passthrough(b"help\n")]
    parser = BootloaderParser()
    parser.feed(command_bytes("BOOT", 10, "0" * 64) + b"abc")
    assert parser.busy
    assert parser.abandon() == Command("ERROR", reason="image stopped after 3 of 10 bytes")
    assert parser.feed(b"help\n") == [Passthrough(b"help\n")]


# --- real boards ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images() -> dict[str, Path]:
    from testbed.contiki.build import medium_firmware

    try:
        return {app: medium_firmware(app) for app in ("router", "border-router")}
    except TestbedError as exc:
        pytest.skip(f"no medium-platform firmware: {exc}")


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real medium with frame-port nodes 1..6 in reach of each other; its socket."""
    folder = tmp_path_factory.mktemp("air")
    spec = folder / "spec.json"
    spec.write_text(json.dumps({
        "run_id": "boards", "frame_socket": str(folder / "frames.sock"),
        "nodes": [{"name": f"b{n}", "short": n, "port": "frame"} for n in range(1, 7)],
        "capture": str(folder / "c.pcap"), "activity": str(folder / "radio.csv"),
        "stats": str(folder / "medium.json")}))
    process = subprocess.Popen(dies_with_parent([sys.executable, "-m", "testbed.radio.medium",
                                                 str(spec)]),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout.readline().strip() == "READY"
        yield folder / "frames.sock"
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Served:
    process: subprocess.Popen[str]
    link: Path
    state: Path

    def firmware_pids(self) -> list[int]:
        return children(self.process.pid)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def board(medium: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    """One `serve` process, a short address of its own (the medium refuses a second HELLO)."""
    short = next(SHORTS) % 6 + 1
    link, state = tmp_path / "ttyBOARD", tmp_path / "flash"
    env = {**os.environ, "CALLER_SECRET": "not-for-the-board"}
    process = subprocess.Popen(dies_with_parent(serve_argv(link, short=short, seed=5,
                                                           medium=medium, state=state)),
                               stdout=subprocess.PIPE, text=True, env=env)
    ready, _, _ = select.select([process.stdout], [], [], BOOT_S)
    assert ready, "no READY line"
    line = process.stdout.readline()
    assert re.fullmatch(r"READY /dev/pts/\d+\n", line), line
    assert os.readlink(link) == line.split()[1]
    served = Served(process, link, state)
    try:
        yield served
    finally:
        pids = served.firmware_pids()
        if process.poll() is None:
            process.terminate()
            assert process.wait(10) == 0
        assert not [p for p in pids if alive(p)], "firmware left running"
        assert not link.is_symlink()


def read_until(console: serial.Serial, needle: bytes, seen: bytes = b"",
               timeout_s: float = BOOT_S) -> bytes:
    deadline = time.monotonic() + timeout_s
    while needle not in seen and time.monotonic() < deadline:
        seen += console.read(4096)
    return seen


def lab_flasher(tmp_path: Path) -> CommandFlasher:
    board = Board(name="n1", platform="contiki", emulator="contiki-native", flasher=FLASHER)
    return CommandFlasher(board=board, argv=FLASHER, log=tmp_path / "n1.flash.log",
                          timeout_s=30)


def test_the_lab_flasher_puts_contiki_on_the_board_and_a_second_image_replaces_it(
        board: Served, images: dict[str, Path], tmp_path: Path) -> None:
    flasher = lab_flasher(tmp_path)
    router = images["router"].read_bytes()
    result = flasher.flash(images["router"], port=str(board.link))
    assert result.bytes == len(router)
    log = result.log.read_text()
    assert f"{len(router)} bytes, sha256 {hashlib.sha256(router).hexdigest()}" in log
    assert (board.state / "firmware").read_bytes() == router
    with serial.Serial(str(board.link), timeout=0.1) as console:
        seen = read_until(console, b"router started", reset_console(console))
        assert b"Starting Contiki-NG" in seen and b"[INFO: Router    ] router started" in seen
        assert b"Link-layer address: 0200.00ff.fe00.000" in seen
        assert seen.index(b"Starting Contiki-NG") < seen.index(b"router started")

        flasher.flash(images["border-router"], port=str(board.link))
        seen = read_until(console, b"RPL-Border router started", reset_console(console))
        assert b"[INFO: BR        ] border router started" in seen
        assert b"[INFO: Router    ]" not in seen  # the old image runs no more
    assert len([p for p in board.firmware_pids() if alive(p)]) == 1


def test_a_corrupted_image_is_refused_and_nothing_runs(board: Served, images: dict[str, Path],
                                                       tmp_path: Path) -> None:
    lab_flasher(tmp_path).flash(images["router"], port=str(board.link))
    good = images["router"].read_bytes()
    bad = good[:1000] + bytes([good[1000] ^ 1]) + good[1001:]
    with serial.Serial(str(board.link), timeout=0.1) as console, \
            BootloaderClient(str(board.link), timeout_s=5, serial=console) as client:
        with pytest.raises(FlashError, match=r"board port .*: BOOT: the board answered: "
                                             r"sha256 mismatch: received [0-9a-f]{64}"):
            client.command("BOOT", len(bad), hashlib.sha256(good).hexdigest(), payload=bad)
        assert client.info() == "empty 0 -"
        with pytest.raises(FlashError, match="RESET: the board answered: no firmware"):
            client.reset()
        arm = good[:18] + (40).to_bytes(2, "little") + good[20:]
        with pytest.raises(FlashError, match=r"ELF for machine 40, this board runs machine \d+"):
            client.boot(arm)
        assert b"Starting Contiki" not in read_until(console, b"Starting Contiki", timeout_s=0.5)
    assert [p for p in board.firmware_pids() if alive(p)] == []
    assert not (board.state / "firmware").exists()


def test_slip_bytes_with_nuls_reach_the_firmware_intact(board: Served, tmp_path: Path) -> None:
    echo = tmp_path / "echo"
    echo.write_bytes(ECHO)
    with serial.Serial(str(board.link), timeout=0.1) as console:
        with BootloaderClient(str(board.link), serial=console) as client:
            client.boot(ECHO)
            seen = read_until(console, b"ENV-END\n", reset_console(console))
        environ = seen.split(b"ENV-END\n")[0].decode().split()
        assert sorted(v.split("=")[0] for v in environ) == [
            "PATH", "TESTBED_MEDIUM_SOCKET", "TESTBED_NODE_SEED", "TESTBED_NODE_SHORT"]
        assert "TESTBED_NODE_SEED=5" in environ
        # a SLIP frame whose payload holds NULs, END/ESC (escaped) and the magic's bytes
        packet = b"\x60\x00\x00\x00\x00\x10\x11\x40" + b"\x00TB-RESET\n\x00\xc0\xdb\x00" * 4
        frames = slip(packet) + slip(b"\x60" + bytes(range(256))) + b"help\n\x00\n"
        console.write(frames)
        echoed = read_until(console, frames, seen.split(b"ENV-END\n", 1)[1], timeout_s=5)
        assert echoed == frames
        assert len([p for p in board.firmware_pids() if alive(p)]) == 1  # not reset


def test_a_board_flooding_a_port_nobody_reads_is_still_flashed(
        board: Served, images: dict[str, Path], tmp_path: Path) -> None:
    """Console bytes pile up while no host reads (dropped past a cap, as a UART drops them);
    the flasher's answer still comes, and the new firmware runs."""
    with BootloaderClient(str(board.link)) as client:
        client.boot(b"#!/bin/sh\nexec yes flooding\n")
        client.reset()
    time.sleep(0.5)  # the port is closed: the board's output has nowhere to go
    lab_flasher(tmp_path).flash(images["router"], port=str(board.link))
    with serial.Serial(str(board.link), timeout=0.1) as console:
        seen = read_until(console, b"router started", reset_console(console))
    assert b"router started" in seen and b"flooding" not in seen.split(b"Starting")[-1]


def test_a_border_router_board_takes_its_prefix_over_slip(board: Served,
                                                          images: dict[str, Path]) -> None:
    """The real thing: Contiki's rpl-border-router asks for its prefix over SLIP (`?P`); the
    answer `!P` + fd00:: (seven NUL bytes) reaches it through the board and it takes it."""
    with serial.Serial(str(board.link), timeout=0.1) as console, \
            BootloaderClient(str(board.link), serial=console) as client:
        client.boot(images["border-router"].read_bytes())
        seen = read_until(console, slip(b"?P"), reset_console(console))
        assert slip(b"?P") in seen
        console.write(slip(b"!P" + bytes.fromhex("fd00000000000000")))
        seen = read_until(console, b"fd00::ff:fe00:", seen)
    assert re.search(rb"fd00::ff:fe00:[0-9a-f]+", seen)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_the_firmware_dies_with_the_board(board: Served, images: dict[str, Path],
                                          tmp_path: Path, how: signal.Signals) -> None:
    lab_flasher(tmp_path).flash(images["router"], port=str(board.link))
    (firmware,) = board.firmware_pids()
    assert alive(firmware)
    board.process.send_signal(how)
    board.process.wait(10)
    deadline = time.monotonic() + 5
    while alive(firmware) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(firmware)
    if how == signal.SIGKILL:  # no clean-up ran: the fixture does not expect one
        board.link.unlink()


OWNER = """
import subprocess, sys
from testbed.backends.processes import dies_with_parent
from testbed.backends.native_board import serve_argv
link, state, short, medium = sys.argv[1:]
board = subprocess.Popen(dies_with_parent(serve_argv(link, short=int(short), seed=1,
                                                     medium=medium, state=state)),
                         stdout=subprocess.PIPE, text=True)
print(board.stdout.readline().strip(), board.pid, flush=True)
sys.stdin.read()
"""


def test_the_board_and_its_firmware_die_with_their_owner(medium: Path, images: dict[str, Path],
                                                         tmp_path: Path) -> None:
    """The orchestrator SIGKILLed: the board still stops its firmware and unplugs its port."""
    link, state = tmp_path / "ttyOWNED", tmp_path / "flash"
    state.mkdir()
    (state / "firmware").write_bytes(images["router"].read_bytes())
    (state / "firmware").chmod(0o755)
    (state / "firmware.sha256").write_text("-\n")
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(link), str(state),
                              str(next(SHORTS) % 6 + 1), str(medium)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready, board_pid = owner.stdout.readline().rsplit(" ", 1)
        assert ready.startswith("READY /dev/pts/")
        deadline = time.monotonic() + 5
        while not children(int(board_pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        (firmware,) = children(int(board_pid))  # the installed image runs at power on
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 5
    while (alive(int(board_pid)) or alive(firmware)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(int(board_pid)) and not alive(firmware)
    assert not link.is_symlink()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("ser2net") is None, reason="no ser2net (apt install ser2net)")
def test_the_flasher_reaches_a_board_over_rfc2217(board: Served, images: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """ser2net serves the board's pty as a lab host would; a pty has no modem lines, so
    pyserial is told not to wait for SET_CONTROL answers (?ign_set_control)."""
    port = free_tcp_port()
    config = (f"connection: &board#  accepter: telnet(rfc2217),tcp,127.0.0.1,{port}#"
              f"  connector: serialdev,{board.link},115200n81,local")
    ser2net = subprocess.Popen(dies_with_parent(["ser2net", "-n", "-u", "-P",
                                                 str(tmp_path / "ser2net.pid"), "-Y", config]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        url = f"rfc2217://127.0.0.1:{port}?ign_set_control"
        result = lab_flasher(tmp_path).flash(images["router"], port=url)
        assert result.port == url
        sha = hashlib.sha256(images["router"].read_bytes()).hexdigest()
        assert (board.state / "firmware.sha256").read_text().strip() == sha  # 0xFF survived
        with serial.serial_for_url(url, timeout=0.1) as console:
            seen = read_until(console, b"router started", reset_console(console))
        assert b"Starting Contiki-NG" in seen
        # the lab path's own console (backends/lab.py) over the same URL, reset on it
        from testbed.backends.console import LineConsole
        from testbed.backends.lab import BoardConsole, _native_reset
        from testbed.config.lab import parse_lab

        lab_board = parse_lab("name: l\nboards:\n  nb: {platform: contiki, emulator: "
                              "contiki-native, node: s1}\n").boards["nb"]
        lines = LineConsole("s1", tmp_path / "s1.console", tmp_path / "s1.jsonl")
        io = BoardConsole(lab_board, url, lines).open(reset=_native_reset)
        try:
            deadline = time.monotonic() + 10
            while b"router started" not in (tmp_path / "s1.console").read_bytes():
                assert io.alive and time.monotonic() < deadline, io.error
                time.sleep(0.1)
        finally:
            io.close()
        assert b"Starting Contiki-NG" in (tmp_path / "s1.console").read_bytes()
    finally:
        ser2net.terminate()
        ser2net.wait(10)


def test_the_flasher_command_line_fails_in_one_line(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "testbed.backends.native_board", *args],
                              capture_output=True, text=True, timeout=30)

    missing = run("flash", "/dev/null", str(tmp_path / "none.elf"))
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "none.elf: no such image to flash" in missing.stderr
    assert run("flash").returncode == 2
    image = tmp_path / "fw"
    image.write_bytes(b"#!/bin/sh\n")
    gone = run("flash", str(tmp_path / "ttyNONE"), str(image))
    assert (gone.returncode, gone.stderr.count("\n")) == (1, 1)
    assert f"board port {tmp_path / 'ttyNONE'}: cannot open" in gone.stderr
    master, slave = os.openpty()  # a port where no board answers
    try:
        silent = run("reset", os.ttyname(slave), "--timeout", "0.5")
    finally:
        os.close(master)
        os.close(slave)
    assert (silent.returncode, silent.stderr.count("\n")) == (1, 1)
    assert "RESET: no answer within 0.5 s" in silent.stderr
