"""TARGET=medium: Contiki-NG's own examples/rpl-udp on the emulated medium's frame port.

Real parts only: Contiki-NG 5.0's udp-server (RPL root) and udp-client, built for the
out-of-tree platform nodes/contiki/platform/medium, run as three processes in a line
(server - router - client) on a real medium process; tshark reads the capture. The
client two hops away must get its echo replies through Contiki's own CSMA, 6LoWPAN
and RPL-lite; a lossy link must show CSMA's retransmissions in the medium's log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testbed.backends.processes import dies_with_parent
from testbed.energy.energest import parse_energest
from testbed.lowpan.addresses import eui64
from testbed.radio.activity import read_activity

ROOT = Path(__file__).resolve().parents[2]
CONTIKI = ROOT / "build" / "contiki-ng"
PLATFORMS = ROOT / "nodes" / "contiki" / "platform"
BUILD_DIR = ROOT / "build" / "medium-platform" / "rpl-udp"
EXAMPLE = CONTIKI / "examples" / "rpl-udp"
#: RPL-lite's first DIOs come within 4-8 s (Imin 2^12 ms); the client sends every 10 s.
REPLY_TIMEOUT_S = 120.0
EXIT_TIMEOUT_S = 10.0


def build_rpl_udp() -> Path:
    """Contiki's make for examples/rpl-udp, TARGET=medium (its code as is, one RPL parameter
    as the testbed's PAN sets it); output under build/ (make is
    incremental: a second session only checks timestamps). Returns the directory of the
    two executables."""
    if not (EXAMPLE / "Makefile").is_file():
        pytest.skip(f"no Contiki-NG tree at {CONTIKI} (make contiki)")
    for tool in ("make", "gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (make system-deps)")
    done = subprocess.run(
        ["make", "-j2", "-C", str(EXAMPLE), "TARGET=medium", f"TARGETDIRS={PLATFORMS}",
         f"BUILD_DIR={BUILD_DIR}", "WERROR=1",
         # the testbed's own PAN setting (nodes/contiki/common/pan-rpl-conf.h): Trickle from
         # 1 s, so the line joins in seconds rather than the 4 s-Imin default's tens
         "DEFINES=RPL_CONF_DIO_INTERVAL_MIN=10"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return BUILD_DIR / "medium"


@pytest.fixture(scope="session")
def firmware() -> Path:
    return build_rpl_udp()


@dataclass
class Line:
    """A medium with three Contiki nodes in a line, and their files."""

    directory: Path
    medium: subprocess.Popen[str]
    nodes: dict[str, subprocess.Popen[bytes]]
    started: float
    first_reply_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    @property
    def capture(self) -> Path:
        return self.directory / "capture.pcap"

    @property
    def activity(self) -> Path:
        return self.directory / "radio.csv"

    def stats(self) -> dict[str, object]:
        return json.loads((self.directory / "medium.json").read_text())


NAMES = {"srv": 1, "mid": 2, "cli": 3}


def start_line(firmware: Path, directory: Path, *, lossy_prr: float) -> Line:
    sock = directory / "frames.sock"
    spec = directory / "spec.json"
    spec.write_text(json.dumps({
        "run_id": "contiki", "seed": 7, "frame_socket": str(sock),
        "nodes": [{"name": n, "short": s, "port": "frame"} for n, s in NAMES.items()],
        "links": [{"a": "srv", "b": "mid"}, {"a": "mid", "b": "cli", "prr": lossy_prr}],
        "capture": str(directory / "capture.pcap"), "activity": str(directory / "radio.csv"),
        "stats": str(directory / "medium.json"),
    }))
    medium = subprocess.Popen(dies_with_parent([sys.executable, "-m", "testbed.radio.medium",
                                                str(spec)]),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert medium.stdout.readline().strip() == "READY", medium.stderr.read()
    started = time.monotonic()
    nodes = {}
    for name, short in NAMES.items():
        program = firmware / ("udp-server.medium" if name == "srv" else "udp-client.medium")
        with open(directory / f"{name}.log", "wb") as log:
            # stdin a pipe held open, as the backend's pty is; the console goes to the log
            nodes[name] = subprocess.Popen(
                dies_with_parent([str(program), "--medium", str(sock), "--short", str(short)]),
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    return Line(directory, medium, nodes, started)


def stop_line(line: Line) -> dict[str, int]:
    """Stop the medium: the nodes lose their radio and exit by themselves (status 1)."""
    line.medium.send_signal(signal.SIGTERM)
    assert line.medium.wait(EXIT_TIMEOUT_S) == 0, line.medium.stderr.read()
    statuses = {}
    for name, node in line.nodes.items():
        try:
            statuses[name] = node.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
            statuses[name] = -1
        node.stdin.close()
    return statuses


@pytest.fixture(scope="module")
def lossy_line(firmware: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    """The line srv - mid - cli with a 0.7-prr link mid - cli, run until the client got a
    reply (or REPLY_TIMEOUT_S), then stopped; yields it with every process gone. One reply
    is the request across both hops and the answer back: the next comes 10 s later."""
    line = start_line(firmware, tmp_path_factory.mktemp("line"), lossy_prr=0.7)
    try:
        deadline = line.started + REPLY_TIMEOUT_S
        while time.monotonic() < deadline and "Received response" not in line.log("cli"):
            if any(node.poll() is not None for node in line.nodes.values()):
                break
            time.sleep(0.25)
        line.first_reply_s = time.monotonic() - line.started
        # the console's input: Contiki's shell on the serial line
        line.nodes["srv"].stdin.write(b"rpl-status\n")
        line.nodes["srv"].stdin.flush()
        shell_deadline = time.monotonic() + 5.0
        while time.monotonic() < shell_deadline and "-- DAG root" not in line.log("srv"):
            time.sleep(0.1)
    finally:
        line.statuses = stop_line(line)
    yield line


@pytest.mark.slow
def test_the_client_two_hops_away_gets_replies(lossy_line: Line) -> None:
    cli = lossy_line.log("cli")
    assert "Received response" in cli, f"client console:\n{cli[-3000:]}"
    assert "Received request" in lossy_line.log("srv")
    assert "Link-layer address: 0200.00ff.fe00.0003" in cli and "Node ID: 3" in cli
    print(f"bring-up: the client's first reply {lossy_line.first_reply_s:.1f} s after the "
          "medium was READY")


@pytest.mark.slow
def test_the_console_runs_contikis_shell(lossy_line: Line) -> None:
    srv = lossy_line.log("srv")
    assert "RPL status:" in srv and "-- DAG root" in srv and "-- State: Reachable" in srv


@pytest.mark.slow
def test_no_process_stays_behind(lossy_line: Line) -> None:
    # the medium exited 0 on SIGTERM; each node saw its frame port close and exited 1
    assert lossy_line.statuses == {"srv": 1, "mid": 1, "cli": 1}
    assert "the medium closed the frame port" in lossy_line.log("mid")
    for process in (lossy_line.medium, *lossy_line.nodes.values()):
        assert process.returncode is not None
        with pytest.raises(ProcessLookupError):
            os.kill(process.pid, 0)
    assert not (lossy_line.directory / "frames.sock").exists()


@pytest.mark.slow
def test_capture_holds_contikis_frames_and_tshark_finds_none_malformed(
        lossy_line: Line) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed (make system-deps)")
    base = ["tshark", "-r", str(lossy_line.capture), "--disable-protocol", "zbee_nwk",
            "-o", "6lowpan.context0:fd00::/64"]
    malformed = subprocess.run([*base, "-Y", "_ws.malformed || _ws.expert.severity == error"],
                               check=True, capture_output=True, text=True, timeout=60).stdout
    assert malformed == ""
    fields = subprocess.run(
        [*base, "-T", "fields", "-E", "separator=|", "-e", "wpan.frame_type", "-e",
         "wpan.src64", "-e", "wpan.fcs_ok", "-e", "icmpv6.type", "-e", "icmpv6.code",
         "-e", "ipv6.src", "-e", "udp.dstport"],
        check=True, capture_output=True, text=True, timeout=60).stdout
    rows = [line.split("|") for line in fields.splitlines() if line]
    assert rows and all(row[2] == "1" for row in rows)  # every FCS the medium appended is good
    data = [row for row in rows if int(row[0], 16) == 1]
    # Contiki's frames: extended (EUI-64) source addresses of the addresses.py scheme
    sources = {row[1] for row in data}
    assert sources == {":".join(f"{b:02x}" for b in eui64(s).to_bytes(8, "big"))
                       for s in NAMES.values()}
    # RPL: DIO (155/1), DAO (155/2) and DAO-ACK (155/3), from Contiki's RPL-lite
    rpl = Counter(row[4] for row in data if row[3] == "155")
    assert rpl["1"] > 0 and rpl["2"] > 0 and rpl["3"] > 0
    # the client's request crosses two hops: sent by mid to srv, from the client's address
    relayed = [row for row in data if row[6] == "5678" and row[5] == "fd00::ff:fe00:3"
               and row[1].endswith(":00:02")]
    assert relayed
    assert any(int(row[0], 16) == 2 for row in rows)  # ACKs the medium sent for the radios


@pytest.mark.slow
def test_retransmissions_on_the_lossy_link_are_in_the_activity_log(lossy_line: Line) -> None:
    rows = read_activity(lossy_line.activity)
    tries = Counter((r.node, r.seq) for r in rows if r.kind == "tx" and r.frame == "data"
                    and r.peer in ("mid", "cli") and r.node in ("mid", "cli"))
    retried = [key for key, count in tries.items() if count > 1]
    assert retried, "CSMA sent no frame twice over a 0.7-prr link"
    # (a no-ack elsewhere is a collision at mid: srv and cli do not hear each other)
    no_ack = [r for r in rows if r.kind == "tx" and r.status == "no-ack"]
    assert any(r.node in ("mid", "cli") and r.peer in ("mid", "cli") for r in no_ack)
    stats = lossy_line.stats()
    assert stats["retries"] >= len(retried)
    assert stats["frame_port"]["connections"] == 3
    assert stats["frame_port"]["tx_done"]["noack"] == len(no_ack)


@pytest.mark.slow
def test_each_node_draws_its_own_random_numbers(lossy_line: Line) -> None:
    """Contiki's random_rand() is libc's rand() here: unseeded, every node would start at the
    same DSN and back off in lockstep with its neighbours (found on a 25-node grid)."""
    first: dict[str, int] = {}
    for row in sorted(read_activity(lossy_line.activity), key=lambda r: r.start_s):
        if row.kind == "tx" and row.frame == "data":
            first.setdefault(row.node, row.seq)
    assert len(first) == 3 and len(set(first.values())) > 1, first


@pytest.mark.slow
def test_energest_lines_on_the_console_count_radio_time(lossy_line: Line) -> None:
    report = parse_energest(lossy_line.log("cli"), ticks_per_second=1_000_000)
    assert report.periods and not report.skipped
    totals = report.totals()
    assert totals["tx_s"] > 0.0
    # CSMA keeps the radio on: Tx + Rx is every microsecond of the periods
    assert totals["tx_s"] + totals["rx_s"] == pytest.approx(totals["total_s"], abs=1e-5)
    # the driver waits for the whole modelled exchange: at least the client's airtime
    sent = [r for r in read_activity(lossy_line.activity)
            if r.node == "cli" and r.kind == "tx" and r.frame == "data"
            and r.start_s < totals["total_s"]]
    assert totals["tx_s"] >= 0.5 * sum(r.duration_s for r in sent)


def test_no_medium_is_one_line_and_exit_status_1(firmware: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(firmware / "udp-client.medium"), "--medium",
                           str(tmp_path / "none.sock"), "--short", "3"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert done.returncode == 1
    assert done.stderr == f"medium: node 0x0003: no medium at {tmp_path / 'none.sock'}: " \
                          "No such file or directory\n"
    assert done.stdout == ""


def test_a_bad_short_address_is_bad_input(firmware: Path) -> None:
    done = subprocess.run([str(firmware / "udp-server.medium"), "--medium", "/nonexistent",
                           "--short", "0xfffe"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 2
    assert done.stderr == "medium: short address '0xfffe' is not a number in 1..0xfffd\n"
