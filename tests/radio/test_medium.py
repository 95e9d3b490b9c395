"""The live medium between two real network namespaces: ping over the emulated air.

Needs root (CAP_NET_ADMIN); skipped with the reason otherwise. Creates its own
namespaces `tb-test-<random>-a/b` with persistent TAPs as the emulated backend
does, and removes exactly those, also on failure.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.lowpan.addresses import link_local, mac48_text
from testbed.radio.activity import read_activity

TIMEOUT = 10


def medium_process(spec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "testbed.radio.medium", str(spec)],
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_bad_spec_exits_2_with_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text('{"run_id": "x", "nodes": []}')
    done = medium_process(spec)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "spec.json: capture: Field required" in done.stderr
    assert "READY" not in done.stdout


def test_missing_namespace_exits_1_and_keeps_the_files(tmp_path: Path) -> None:
    netns = f"tb-test-{secrets.token_hex(3)}-gone"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "run_id": "x", "nodes": [{"name": "a", "short": 1, "netns": netns}],
        "capture": str(tmp_path / "c.pcap"), "activity": str(tmp_path / "r.csv"),
        "stats": str(tmp_path / "m.json"),
    }))
    done = medium_process(spec)
    assert done.returncode == 1, done.stderr
    assert f"netns {netns}" in done.stderr and "READY" not in done.stdout
    assert json.loads((tmp_path / "m.json").read_text())["frames"] == 0
    assert (tmp_path / "c.pcap").stat().st_size == 24  # the pcap header alone


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=TIMEOUT)


@pytest.fixture
def namespaces() -> Iterator[dict[int, str]]:
    """Two namespaces, each with a persistent TAP wpan0 configured like a node's."""
    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_NET_ADMIN) to create network namespaces: run as root")
    for tool in ("ip", "ping", "tshark"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (make system-deps)")
    run = secrets.token_hex(3)
    names = {1: f"tb-test-{run}-a", 2: f"tb-test-{run}-b"}
    created: list[str] = []
    try:
        for short, netns in names.items():
            ip("netns", "add", netns)
            created.append(netns)
            ip("-n", netns, "tuntap", "add", "dev", "wpan0", "mode", "tap")
            ip("-n", netns, "link", "set", "wpan0", "address", mac48_text(short), "mtu", "1280")
            subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw",
                            "net.ipv6.conf.wpan0.accept_dad=0"],
                           check=True, capture_output=True, timeout=TIMEOUT)
            ip("-n", netns, "link", "set", "wpan0", "up")
        yield names
    finally:
        for netns in created:
            subprocess.run(["ip", "-n", netns, "tuntap", "del", "dev", "wpan0", "mode", "tap"],
                           capture_output=True, timeout=TIMEOUT)
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=TIMEOUT)


def wait_ready(medium: subprocess.Popen[str], timeout: float) -> None:
    selector = selectors.DefaultSelector()
    selector.register(medium.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout):
            raise AssertionError(f"medium: no READY within {timeout} s")
        line = medium.stdout.readline()
    finally:
        selector.close()
    if line.strip() != "READY":
        raise AssertionError(f"medium said {line!r}; stderr: {medium.stderr.read()}")


def wait_link_local(netns: str, short: int) -> None:
    """The kernel adds fe80::ff:fe00:N once the medium gives the TAP its carrier."""
    address = str(link_local(short))
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        shown = subprocess.run(["ip", "-n", netns, "-6", "addr", "show", "dev", "wpan0"],
                               capture_output=True, text=True, timeout=TIMEOUT).stdout
        if address in shown and "tentative" not in shown:
            return
        time.sleep(0.05)
    raise AssertionError(f"{netns}: no {address} on wpan0 within {TIMEOUT} s")


def tshark(*argv: str) -> str:
    return subprocess.run(["tshark", *argv], check=True, capture_output=True, text=True,
                          timeout=60).stdout


@pytest.mark.needs_root
@pytest.mark.parametrize("addressing", ["short", "extended"])
def test_ping_over_the_emulated_air(
    namespaces: dict[int, str], tmp_path: Path, addressing: str
) -> None:
    spec = {
        "run_id": "test", "channel": 26, "pan_id": 0xABCD, "addressing": addressing,
        "prefix": "fd00::/64", "seed": 1, "queue": 16,
        "nodes": [{"name": "a", "short": 1, "netns": namespaces[1], "tap": "wpan0"},
                  {"name": "b", "short": 2, "netns": namespaces[2], "tap": "wpan0"}],
        "links": [{"a": "a", "b": "b", "prr": 1.0}],
        "capture": str(tmp_path / "capture.pcap"), "activity": str(tmp_path / "radio.csv"),
        "stats": str(tmp_path / "medium.json"), "reassembly_timeout_s": 5.0,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    medium = subprocess.Popen(
        [sys.executable, "-m", "testbed.radio.medium", str(tmp_path / "spec.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_ready(medium, TIMEOUT)
        for short, netns in namespaces.items():
            wait_link_local(netns, short)
        for size in ("56", "600"):  # one frame each way; then FRAG1 + FRAGN
            ping = subprocess.run(
                ["ip", "netns", "exec", namespaces[1], "ping", "-6", "-n", "-c", "3", "-i",
                 "0.2", "-W", "2", "-s", size, f"{link_local(2)}%wpan0"],
                capture_output=True, text=True, timeout=30,
            )
            print(ping.stdout)  # shown on failure, and with -s: the RTTs over the air
            assert ping.returncode == 0, ping.stdout + ping.stderr
            assert " 0% packet loss" in ping.stdout, ping.stdout
        medium.send_signal(signal.SIGTERM)
        assert medium.wait(TIMEOUT) == 0, medium.stderr.read()
    finally:
        if medium.poll() is None:
            medium.kill()
            medium.wait(TIMEOUT)
        medium.stdout.close()
        medium.stderr.close()

    stats = json.loads((tmp_path / "medium.json").read_text())
    assert stats["frames"] >= 2 * 3 * 2 + 2 * 3 * 2 and stats["acks"] >= 12
    assert stats["packets_out"] >= 12
    capture = str(tmp_path / "capture.pcap")
    rows = [line.split("\t") for line in
            tshark("-r", capture, "-T", "fields", "-e", "frame.len", "-e", "wpan.frame_type",
                   "-e", "wpan.seq_no").splitlines()]
    types = {int(frame_type, 0) for _, frame_type, _ in rows}
    assert types == {1, 2}  # data and ACK frames
    assert max(int(length) for length, _, _ in rows) <= 127
    assert len(rows) == stats["frames"] + stats["acks"]
    assert tshark("-r", capture, "-Y", "_ws.malformed") == ""
    times = [float(t) for t in tshark("-r", capture, "-T", "fields",
                                       "-e", "frame.time_epoch").split()]
    assert times == sorted(times) and times[0] >= stats["t0_unix"]
    activity = read_activity(tmp_path / "radio.csv")
    assert {a.kind for a in activity} == {"tx", "rx", "cca", "backoff", "listen"}
    # capture and log tell the same story: one tx row per frame on the air, at its air time,
    # lasting (PSDU + 6 bytes SHR/PHR) x 32 µs
    sent = sorted((a for a in activity if a.kind == "tx"), key=lambda a: a.start_s)
    assert len(sent) == len(rows)
    for row, (length, _, _), when in zip(sent, rows, times):
        assert row.bytes == int(length)
        assert row.duration_s == pytest.approx((int(length) + 6) * 32e-6, abs=2e-6)
        assert stats["t0_unix"] + row.start_s == pytest.approx(when, abs=2e-6)
    assert stats["lateness"]["events"] > 0
