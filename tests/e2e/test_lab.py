"""`testbed compare --lab labs/native.yaml`: the comparison on a lab's boards, end to end.

labs/native.yaml's boards are `contiki-native` boards (testbed/backends/native_board.py):
Contiki-NG firmware behind a pty with a serial bootloader, their radio the medium, the sniffer
the medium's sensniff tap on a pty. The run goes the way a lab of real boards goes: build per
node with its configuration compiled in, flash through the flasher argv, consoles over
pyserial, the capture from the sniffer board. The oracles: the emulated Contiki run of the same
topology and seed (conftest.py's contiki_comparison, Contiki processes with no boards in
between), the medium's own capture beside the sniffer's, tshark.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config.lab import load_lab
from testbed.config.topology import parse_topology
from testbed.experiment.results import Results, read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.variants import Variant
from testbed.report import render_report

from tests.fake_meter import FakeMeter
from tests.topologies import SENSOR_PAIR

from .conftest import CONTIKI_READINGS, default_without_loss
from .tshark import check_capture, fields

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "labs" / "native.yaml"
VARIANT = Variant.COAP_OBSERVE_CON
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (root)")]


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results]:
    run_dir = run_comparison(default_without_loss(), variants=(VARIANT,),
                             readings=CONTIKI_READINGS, interval_s=0.5,
                             out=tmp_path_factory.mktemp("lab"), lab=load_lab(LAB))
    return run_dir, read_results(run_dir)


def test_the_boards_deliver_every_reading_and_the_run_names_them(lab_run) -> None:
    run_dir, results = lab_run
    result = results.variants[str(VARIANT)]
    assert result.error is None, result.error
    assert result.readings.sent == result.readings.delivered == CONTIKI_READINGS * 3
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["backend"] == "lab" and manifest["lab"] == "native"
    assert manifest["boards"] == {"br": "nbr", "s1": "ns1", "s2": "ns2", "r1": "nr1",
                                  "s3": "ns3"}
    logs = run_dir / str(VARIANT) / "logs"
    for board in ("ns1", "ns2", "ns3"):  # flashed through the lab's flasher argv
        assert "flashed" in (logs / "flash" / f"{board}.log").read_text()
    assert "Starting Contiki-NG" in (logs / "s1.console").read_text()  # reset on the console
    for board in ("nbr", "ns1", "ns2", "nr1", "ns3"):  # held (quiet:) before the tear-down
        assert "hold: ok" in (logs / "flash" / f"{board}.quiet.log").read_text(), board


def test_the_sniffer_board_heard_every_frame_the_medium_sent(lab_run) -> None:
    """The capture is the sniffer's (sensniff over a pty, as from a board): tshark finds the
    same frames, byte for byte, as in the medium's own record of the air."""
    run_dir, _ = lab_run
    sniffed = run_dir / str(VARIANT) / "capture.pcap"
    sent = run_dir / str(VARIANT) / "medium-capture.pcap"
    check_capture(sniffed)
    assert fields(sniffed, "frame.len", "wpan.seq_no") == fields(sent, "frame.len", "wpan.seq_no")


def test_per_reading_cost_agrees_with_the_emulated_contiki_run(lab_run, contiki_comparison
                                                              ) -> None:
    """Issue 08's acceptance: the lab path and the emulated backend on the same topology and
    seed agree on frames and bytes per reading within 5 %."""
    _, lab = lab_run
    _, emulated = contiki_comparison
    on_boards = lab.variants[str(VARIANT)].air.per_reading
    processes = emulated.variants[str(VARIANT)].air.per_reading
    for figure in ("frames", "bytes"):
        assert on_boards[figure] == pytest.approx(processes[figure], rel=0.05), figure


def test_energest_comes_from_the_board_consoles(lab_run) -> None:
    run_dir, results = lab_run
    energest = results.variants[str(VARIANT)].energy.get("energest") or {}
    assert set(energest.get("nodes", {})) >= {"s1", "s2", "s3"}, energest
    console = (run_dir / str(VARIANT) / "logs" / "s1.console").read_text()
    assert "Energest" in console


@pytest.mark.parametrize(("args", "message"), [
    (["--lab", str(LAB), "--platform", "emulated"],
     "--lab: a lab's boards run Contiki-NG firmware"),
    (["--lab", str(ROOT / "labs" / "qemu.yaml")], "no board plays node 'br'"),
])
def test_a_lab_that_cannot_play_the_topology_is_refused_before_anything_runs(args, message
                                                                            ) -> None:
    done = subprocess.run([sys.executable, "-m", "testbed.cli", "compare", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


TWO_NODES = SENSOR_PAIR  # br and s1, one hop


class UnplugInSecondVariant:
    """An observer that pulls board `board`'s plug (kills its native board process: its pty
    goes away, as a USB serial does) once the second variant's readings begin."""

    def __init__(self, board: str) -> None:
        self.board = board
        self.variants: list[str] = []
        self.unplugged = False
        self.run_id = ""

    def started(self, run_dir: Path) -> None:
        self.run_id = run_dir.name.rsplit("-", 1)[-1]  # <time>-<run id>

    def phase(self, variant: Variant, what: str) -> None:
        if what == "bring-up":
            self.variants.append(str(variant))
        if what == "readings" and len(self.variants) == 2 and not self.unplugged:
            for pid in _native_board_pids(self.board, self.run_id):
                os.kill(pid, signal.SIGKILL)
                self.unplugged = True

    def delivered(self, variant: Variant, delivered: int, expected: int) -> None:
        pass

    def finished(self, variant: Variant, result) -> None:
        pass


def _native_board_pids(board: str, run_id: str) -> list[int]:
    """This run's native board `board` (its port is in the run's private directory), never
    a board of another run on this machine."""
    link = f"/{run_id}.private/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"testbed.backends.native_board" in argv and b"serve" in argv and any(
                a.endswith(f"/{board}.tty".encode()) and link in a for a in argv):
            found.append(int(entry.name))
    return found


TWO_BOARDS = """\
name: native-two
boards:
  nbr: {platform: contiki, emulator: contiki-native, node: br,
        flasher: ["{python}", -m, testbed.backends.native_board, flash, --no-reset, "{port}",
                  "{image}"]}
  ns1: {platform: contiki, emulator: contiki-native, node: s1,
        flasher: ["{python}", -m, testbed.backends.native_board, flash, --no-reset, "{port}",
                  "{image}"],
        meter: {kind: serial-lines, port: METER}}
  sniffer: {platform: sensniff, emulator: medium}
"""
METER_MA = 12.5  # what the fake meter on ns1's supply reads, all the time


def _compare(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "testbed.cli", "compare", "--topology",
            str(tmp_path / "two.yaml"), "--lab", str(tmp_path / "lab.yaml"), "--readings", "3",
            "--interval", "0.5", "--out", str(tmp_path / "reports"), *args]


def _wait_for_lease(lease_dir: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not list(lease_dir.glob("*.lease")):
        assert time.monotonic() < deadline, "the first run took no lease"
        time.sleep(0.1)


def test_two_runs_never_share_a_board_and_an_unplugged_board_fails_only_its_variant(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 08's acceptance, on a two-board lab:
    - a second `testbed compare --lab` while a first holds the boards exits 75 naming the
      holder's run; after SIGKILL of the first, the next run takes its leases at once (the
      owner is dead on this host) and removes what the first left (its namespaces);
    - that run loses s1's board mid-readings of its second variant: the variant fails naming
      the board, the first variant's figures stay in results.json;
    - s1's board has a power meter (a fake on a pty: no meter hardware here): its samples
      over the first variant are in the run and integrated into energy.measured."""
    with FakeMeter(lambda i: METER_MA) as meter:
        _two_runs(tmp_path, monkeypatch, meter.port)


def _two_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meter_port: str) -> None:
    (tmp_path / "two.yaml").write_text(TWO_NODES)
    (tmp_path / "lab.yaml").write_text(TWO_BOARDS.replace("METER", meter_port))
    lease_dir = tmp_path / "leases"
    monkeypatch.setenv("TESTBED_LEASE_DIR", str(lease_dir))
    first = subprocess.Popen(_compare(tmp_path, "--variants", "coap-get"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_lease(lease_dir)
        second = subprocess.run(_compare(tmp_path, "--wait", "0"), capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 75, second.stderr
        assert "held by" in second.stderr and f"pid {first.pid}" in second.stderr, second.stderr
        first_run = re.search(r"\(run ([0-9a-f]{6}), pid", second.stderr)
        assert first_run, second.stderr
    finally:
        first.kill()
        first.wait()
    observer = UnplugInSecondVariant("ns1")
    run_dir = run_comparison(parse_topology(TWO_NODES).on_platform("contiki"),
                             variants=(Variant.COAP_GET, Variant.COAP_OBSERVE_CON), readings=3,
                             interval_s=0.5, out=tmp_path, lab=load_lab(tmp_path / "lab.yaml"),
                             observer=observer)
    assert not list(lease_dir.glob("*.lease"))  # released at the end
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"tb-{first_run[1]}-" not in left  # what the killed run left is gone
    results = read_results(run_dir)
    assert observer.unplugged
    first_variant, second_variant = (results.variants[str(v)] for v in (
        Variant.COAP_GET, Variant.COAP_OBSERVE_CON))
    assert first_variant.error is None and first_variant.readings.delivered == 3
    error = second_variant.error
    assert error is not None and "board ns1" in error and "lost" in error, error
    measured = first_variant.energy["measured"]["s1"]
    assert "error" not in measured and measured["samples"] > 50, measured
    assert measured["mean_mA"] == pytest.approx(METER_MA)
    assert measured["joules"] == pytest.approx(METER_MA / 1e3 * 3.3 * measured["duration_s"],
                                               rel=1e-6)
    assert measured["duration_s"] > 3 * 0.5  # from the app's start to the tear-down
    assert (run_dir / "coap-get" / measured["file"]).is_file()
    report = render_report(run_dir)  # shown as measured, beside the estimates
    html = report.html.read_text()
    assert 'id="measured-table"' in html and f"{measured['joules'] * 1000:,.3f}" in html
    assert "**Energy measured on the boards.**" in report.markdown.read_text()
