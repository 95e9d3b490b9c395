"""`testbed compare` killed by SIGKILL mid-variant: nothing it started outlives it, and the next
run removes the namespaces it left (the one thing a SIGKILL may leave) and says so.

The oracles are the kernel's: /proc for processes (by pid *and* start time, so a recycled pid
is not taken for a survivor), /run/netns for namespaces. Every run here uses a registry of its
own, so runs of other sessions on this machine are neither seen nor touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.backends.processes import ProcessRecord
from testbed.experiment.run import REGISTRY_ENV, list_runs, remove_stale_runs
from testbed.report.screenshot import processes_using
from tests.topologies import TWO_SENSORS

ROOT = Path(__file__).resolve().parents[2]
needs_root = pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (root)")



class Killed:
    """One `testbed compare` of one variant, started, caught mid-variant, SIGKILLed."""

    def __init__(self, tmp_path: Path, variant: str, env: dict[str, str]) -> None:
        self.variant = variant
        self.out = tmp_path / variant
        self.stderr_path = tmp_path / f"{variant}.err"
        argv = [sys.executable, "-m", "testbed.cli", "compare",
                "--topology", str(tmp_path / "two-sensors.yaml"), "--variants", variant,
                "--readings", "60", "--interval", "0.5", "--out", str(self.out)]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                         stderr=err)
        self.entry: dict = {}
        self.processes: list[ProcessRecord] = []

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_mid_variant(self, registry: Path, timeout_s: float = 120.0) -> None:
        """Until both sensors have sent a reading; then note every process of the run: what
        the registry recorded and whatever lives in the run's namespaces (prosody, sinks)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"compare exited {self.proc.returncode}: {self.stderr}"
            logs = [next(self.out.glob(f"*/{self.variant}/logs/{s}.jsonl"), None)
                    for s in ("s1", "s2")]
            if all(p is not None and '"reading"' in p.read_text() for p in logs):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"{self.variant}: no readings within {timeout_s} s: "
                                 f"{self.stderr[-500:]}")
        (path,) = registry.glob("*.json")
        self.entry = json.loads(path.read_text())
        recorded = [ProcessRecord.from_json(p) for p in self.entry["pids"]]
        inside = netns.pids_in_netns(self.entry["netns"])
        self.processes = recorded + [_record(pid) for pids in inside.values() for pid in pids]
        self.processes = [p for p in self.processes if p is not None and p.alive()]

    def commands(self) -> bytes:
        return b"\n".join(_cmdline(p.pid) for p in self.processes)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)  # no `finally`, no tear-down runs
        self.proc.wait(30)

    def survivors(self, within_s: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + within_s
        while any(p.alive() for p in self.processes) and time.monotonic() < deadline:
            time.sleep(0.05)
        return [_cmdline(p.pid) for p in self.processes if p.alive()]

    @property
    def run_id(self) -> str:
        return str(self.entry["run_id"])

    def namespaces_left(self) -> list[str]:
        return [n for n in self.entry.get("netns", []) if netns.netns_exists(n)]


def _record(pid: int) -> ProcessRecord | None:
    try:
        return ProcessRecord.of(pid)
    except Exception:  # exited meanwhile
        return None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
    except OSError:
        return b""


def _leave_nothing(registry: Path, killed: list[Killed]) -> None:
    """Whatever failed above: no process and no namespace of ours stays."""
    for k in killed:
        if k.proc.poll() is None:
            k.kill()
        for p in k.processes:
            p.signal(signal.SIGKILL)
    remove_stale_runs(registry)


def _stale_line(k: Killed) -> str:
    owner = k.entry["owner"]["pid"]
    return (f"testbed: removed stale run {k.run_id} of dead pid {owner}: "
            f"{len(k.entry['netns'])} namespaces, 0 processes\n")


@pytest.mark.slow
@needs_root
def test_sigkill_mid_variant_leaves_only_namespaces_which_the_next_run_removes(
    tmp_path: Path,
) -> None:
    registry = tmp_path / "registry"
    env = {**os.environ, REGISTRY_ENV: str(registry)}
    (tmp_path / "two-sensors.yaml").write_text(TWO_SENSORS)
    killed: list[Killed] = []
    try:
        # 1. CoAP: the medium, the CoAP sink and two coap-sensor apps run when it is killed
        coap = Killed(tmp_path, "coap-observe-con", env)
        killed.append(coap)
        coap.wait_mid_variant(registry)
        assert b"testbed.services.coap_sink" in coap.commands()
        assert b"coap-sensor/main.py" in coap.commands()
        assert b"testbed.radio.medium" in coap.commands()
        coap.kill()
        assert coap.survivors() == []
        assert coap.namespaces_left() == coap.entry["netns"]  # what a SIGKILL may leave

        # 2. the next run removes them first, in one line; then XMPP is killed the same way
        xmpp = Killed(tmp_path, "xmpp-message", env)
        killed.append(xmpp)
        xmpp.wait_mid_variant(registry)
        assert _stale_line(coap) in xmpp.stderr
        assert coap.namespaces_left() == []
        assert b"prosody" in xmpp.commands() and b"testbed.services.xmpp_sink" in xmpp.commands()
        assert b"xmpp-sensor/main.py" in xmpp.commands()
        xmpp.kill()
        assert xmpp.survivors() == []

        # 3. any run will do: `testbed pingall` removes the XMPP run's namespaces; with
        # --json the line goes to stderr and stdout stays one JSON document
        (tmp_path / "pair.yaml").write_text(TWO_SENSORS.replace("two-sensors", "pair"))
        ping = subprocess.run(
            [sys.executable, "-m", "testbed.cli", "pingall", str(tmp_path / "pair.yaml"),
             "--count", "1", "--out", str(tmp_path / "ping"), "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert ping.returncode == 0, ping.stderr
        assert isinstance(json.loads(ping.stdout), dict), ping.stdout
        assert ping.stderr.count("removed stale run") == 1
        assert _stale_line(xmpp) in ping.stderr
        assert xmpp.namespaces_left() == []
        assert list_runs(registry) == []
    finally:
        _leave_nothing(registry, killed)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium (apt-get install "
                    "chromium): report screenshots are not taken here")
def test_chromium_and_every_helper_it_forked_die_with_a_killed_screenshot(tmp_path: Path) -> None:
    """The browser has the parent-death signal; its zygotes, renderers and crash handlers
    (some re-parented to init already) end by themselves once it is gone."""
    server = socket.socket(socket.AF_INET6)  # listens, never answers: the page never loads
    server.bind(("::1", 0))
    server.listen(8)
    page = tmp_path / "page.html"
    page.write_text(f'<img src="http://[::1]:{server.getsockname()[1]}/never.png">')
    profiles = tmp_path / "tmp"
    profiles.mkdir()
    script = ("import tempfile\n"
              "from pathlib import Path\n"
              "from testbed.report.screenshot import screenshot\n"
              f"tempfile.tempdir = {str(profiles)!r}  # the browser's profile goes there\n"
              f"screenshot(Path({str(page)!r}), Path({str(tmp_path / 'x.png')!r}))\n")
    owner = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    browser: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(browser) < 3 and time.monotonic() < deadline:  # browser, zygotes, ...
            assert owner.poll() is None, f"the screenshot ended ({owner.returncode})"
            time.sleep(0.2)
            browser = processes_using(profiles)
        assert len(browser) >= 3, browser
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 10
        while processes_using(profiles) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [_cmdline(pid)[:80] for pid in processes_using(profiles)] == []
    finally:
        owner.kill()
        owner.wait()
        for pid in processes_using(profiles):  # ours: they name our profile directory
            os.kill(pid, signal.SIGKILL)
        server.close()
