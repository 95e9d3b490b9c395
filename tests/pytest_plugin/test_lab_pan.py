"""A lab's own suite on its boards: `pytest --lab LAB` where the lab's Contiki boards play every
node runs the comparison on those boards (the lab path of `testbed compare --lab`), and the
fixtures read what the boards did: results, node events and consoles, the sniffer board's
capture. The lab here is labs/native.yaml's kind: native boards, no hardware."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.backends.netns import has_net_admin
from tests.topologies import SENSOR_PAIR as PAIR

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)")]

ROOT = Path(__file__).resolve().parents[2]
FLASHER = '["{python}", -m, testbed.backends.native_board, flash, --no-reset, "{port}", "{image}"]'
LAB = f"""name: bench
boards:
  nbr: {{platform: contiki, emulator: contiki-native, node: br, flasher: {FLASHER}}}
  ns1: {{platform: contiki, emulator: contiki-native, node: s1, flasher: {FLASHER}}}
  sniffer: {{platform: sensniff, emulator: medium}}
"""
SUITE = '''
def test_delivered(testbed, variant):
    readings = testbed.result(variant).readings
    assert readings.delivered == readings.sent == 2


def test_node(node, variant):
    s1 = node("s1")
    assert [e["seq"] for e in s1.events if e.kind == "reading"] == [1, 2]


def test_sniffer(sniffer, variant, testbed):
    # the sniffer board's frames are those the medium recorded putting on the air
    from testbed.capture.pcapfile import read_frames
    sent = read_frames(testbed.directory(variant) / "medium-capture.pcap")
    assert sniffer and [f.psdu for f in sniffer] == [f.psdu for f in sent]
'''


def test_the_lab_suites_run_on_a_lab_of_contiki_boards(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """suites/ (the comparison as a lab's tests) and a test of the fixtures, with --lab naming
    native boards for every node: the comparison runs on the boards, `sniffer` is the sniffer
    board's capture; only the tests that need what this lab has not (a MicroPython board, a
    live sniffer outside a run, variants not asked for) skip, saying why."""
    monkeypatch.setenv("TESTBED_LEASE_DIR", str(pytester.path / "leases"))
    pytester.makefile(".yaml", pair=PAIR, bench=LAB)
    pytester.makepyfile(test_fixtures=SUITE)
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites"), "test_fixtures.py", "-rs", "--topology", "pair.yaml", "--lab", "bench.yaml",
        "--readings", "2", "--variants", "coap-observe-non", "--report-dir", "runs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 20  # suites/ 17, test_fixtures.py 3 (delivered, node, sniffer)
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    expected = ("--variants", "0 micropython boards", "board sniffer: the medium's sniffer "
                "exists only while a run")  # one variant asked; a MicroPython board; live
    assert skips and all(any(why in line for why in expected) for line in skips), skips
    (run,) = (pytester.path / "runs").glob("*/run.json")
    manifest = json.loads(run.read_text())
    assert manifest["backend"] == "lab" and manifest["boards"] == {"br": "nbr", "s1": "ns1"}
    variant = run.parent / "coap-observe-non"
    assert (variant / "capture.pcap").is_file() and (variant / "medium-capture.pcap").is_file()


HOLDER = """
import sys, time
from testbed.backends.leases import lease_boards
from testbed.config.lab import load_lab
with lease_boards(load_lab(sys.argv[1]), ["nbr"], run_id="abc123"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_suite_whose_boards_another_run_holds_exits_75_naming_the_holder(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing failed: the boards were busy. Every test says who holds them, the comparison
    is tried once, and pytest exits 75 (EX_TEMPFAIL) so a CI job retries on that alone."""
    import subprocess
    import sys

    monkeypatch.setenv("TESTBED_LEASE_DIR", str(pytester.path / "leases"))
    pytester.makefile(".yaml", pair=PAIR, bench=LAB)
    pytester.makepyfile(test_suite=SUITE)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(pytester.path / "bench.yaml")],
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        result = pytester.runpytest_subprocess(
            "--topology", "pair.yaml", "--lab", "bench.yaml", "--board-wait", "0",
            "--variants", "coap-get")
        pytester.makepyfile(test_other="def test_broken():\n    assert 1 == 2\n")
        mixed = pytester.runpytest_subprocess(
            "--topology", "pair.yaml", "--lab", "bench.yaml", "--board-wait", "0",
            "--variants", "coap-get")
    finally:
        holder.kill()
        holder.wait()
    assert result.ret == 75
    result.assert_outcomes(failed=2, errors=1)  # two tests ask in their call, the sniffer in set-up
    result.stdout.fnmatch_lines(["*nbr*held by*abc123*"])
    assert mixed.ret == 1  # a real failure beside busy boards: no retry may hide it
