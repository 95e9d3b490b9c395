"""The C xmpp-sensor built for TARGET=native, run against prosody and the project's XMPP sink
in one fresh network namespace (a helper of tests/contiki/test_xmpp_sensor.py, not a test).

Contiki's native tun (arch/cpu/native/net/tun6-net.c) attaches to a tun device named tun0 and
then configures it with `ifconfig` through system(). Debian has no ifconfig here, so the
test makes tun0 itself with `ip` (argv lists) before the node starts: a persistent tun in the
namespace (Contiki's TUNSETIFF attaches to it), up, with fd00::1/64 -- the default prefix's
::1, which Contiki takes as its default router -- and prosody listening on that address. The
node runs with PATH=/usr/bin:/bin so its ifconfig calls find nothing. The node's address is
fd00::302:304:506:708 (the native platform's link-layer address 01:02:..:08).

Everything is real: prosody (testbed.services.prosody), the slixmpp sink
(testbed.services.xmpp_sink) and the Contiki-NG node process with its uIP stack; nothing
is mocked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from testbed.backends.processes import dies_with_parent
from testbed.services.prosody import Prosody
from testbed.services.xmpp_sink import XmppSink

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "nodes" / "contiki" / "xmpp-sensor"
CONTIKI = ROOT / "build" / "contiki-ng"
BUILD = ROOT / "build" / "tests" / "contiki" / "xmpp-sensor"
PLATFORMS = ROOT / "nodes" / "contiki" / "platform"
SERVER = "fd00::1"
DOMAIN = "iot.testbed"
NODE_PATH = "/usr/bin:/bin"  # no /usr/sbin: tun6-net's ifconfig calls find nothing


def build(target: str = "native", modules: str | None = None) -> Path:
    """make the app for `target` (with only XMPP_MODULES `modules`, if given) into
    build/tests/contiki/xmpp-sensor/<target>[-<modules>]/; the ELF's path."""
    if not (CONTIKI / "Makefile.include").exists():
        pytest.skip(f"no Contiki-NG tree at {CONTIKI} (make contiki)")
    name = target + ("-" + modules.replace(" ", "-") if modules is not None else "")
    build_dir = BUILD / name
    build_dir.mkdir(parents=True, exist_ok=True)
    argv = ["make", "-C", str(APP), f"TARGET={target}", f"BUILD_DIR={build_dir}",
            f"CONTIKI={CONTIKI}", "-j2"]
    if (PLATFORMS / target).is_dir():  # an out-of-tree platform (medium)
        argv.append(f"TARGETDIRS={PLATFORMS}")
    if modules is not None:
        argv.append(f"XMPP_MODULES={modules}")
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"make xmpp-sensor for {target} failed:\n{done.stdout[-3000:]}"
                    f"{done.stderr[-3000:]}")
    return build_dir / target / f"xmpp-sensor.{target}"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Node:
    """The native node process: started in `netns` with TESTBED_<KEY> variables; its JSON
    event lines are collected on a thread (other lines are Contiki's log)."""

    def __init__(self, binary: Path, netns: str, config: dict[str, str]) -> None:
        self.netns = netns
        env = {"PATH": NODE_PATH, **{f"TESTBED_{k}": v for k, v in config.items()}}
        # stdin: a pipe kept open and never written. Contiki's native main loop selects on
        # stdin; at EOF (/dev/null) select() returns at once forever and the node spins at
        # 100 % CPU.
        self.process = subprocess.Popen(
            dies_with_parent(["ip", "netns", "exec", netns, str(binary)]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self.changed:
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def output(self) -> str:
        with self.changed:
            return "\n".join(self.lines)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.changed:
            lines = list(self.lines)
        found = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in found if kind is None or e["event"] == kind]

    def wait_event(self, kind: str, count: int = 1, timeout_s: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while len(found := self.events(kind)) < count:
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError(f"{count} x {kind!r} not seen in {timeout_s} s; "
                                         f"node output:\n{self.output()[-4000:]}")
                self.changed.wait(min(left, 0.2))
            return found

    def stop(self) -> int | None:
        """SIGTERM (the app ends its session and says "stopped"), SIGKILL after 5 s."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.reader.join(timeout=5)
        if self.process.stdin is not None:
            self.process.stdin.close()
        return self.process.returncode


@contextlib.contextmanager
def namespace() -> Any:
    """A fresh network namespace with lo up and tun0 (fd00::1/64) ready for the node; removed
    on exit, also after a failure."""
    name = f"tb-{secrets.token_hex(3)}-cxm"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", name, "tuntap", "add", "dev", "tun0", "mode", "tun")
        ip("-n", name, "addr", "add", f"{SERVER}/64", "dev", "tun0", "nodad")
        ip("-n", name, "link", "set", "tun0", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)


@contextlib.contextmanager
def capture(netns: str, path: Path) -> Any:
    """dumpcap on tun0 of `netns` while the block runs; yields `path`, or None without
    dumpcap (Debian package wireshark-common / tshark)."""
    if shutil.which("dumpcap") is None:
        yield None
        return
    process = subprocess.Popen(
        ["ip", "netns", "exec", netns, "dumpcap", "-q", "-i", "tun0", "-w", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (path.exists() and path.stat().st_size > 0):  # the pcapng header is out
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dumpcap did not start: {process.stderr.read()[-500:]!r}")
            time.sleep(0.05)
        time.sleep(0.5)  # the header is written before the capture itself is running
        yield path
    finally:
        time.sleep(0.3)
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def xmpp_run(binary: Path, tmp: Path, *, mode: str, readings: int, interval_s: float,
             sasl: str = "PLAIN", config: dict[str, str] | None = None,
             pcap: Path | None = None) -> Any:
    """prosody + the sink + the C node in one namespace (and dumpcap on tun0 into `pcap`,
    complete once the block is left): yields (node, sink, passwords, pcap or None)."""
    passwords = {"n1": secrets.token_urlsafe(12), "sink": secrets.token_urlsafe(12)}
    with contextlib.ExitStack() as stack:
        netns = stack.enter_context(namespace())
        if pcap is not None:
            pcap = stack.enter_context(capture(netns, pcap))
        stack.enter_context(Prosody(netns=netns, address=SERVER, domain=DOMAIN,
                                    accounts=passwords, directory=tmp / "prosody",
                                    log_level="debug"))
        sink = stack.enter_context(XmppSink(
            netns=netns, server=SERVER, domain=DOMAIN, password=passwords["sink"], mode=mode,
            nodes={"n1": f"n1@{DOMAIN}/sensor"}, readings=readings, interval_s=interval_s,
            deliveries=tmp / "deliveries.jsonl", log=tmp / "sink.log"))
        settings = {
            "NAME": "n1", "READINGS": str(readings), "INTERVAL_S": str(interval_s),
            "SENSORS": "temperature", "SEED": "1", "SERVER": SERVER, "PORT": "5222",
            "DOMAIN": DOMAIN, "USER": "n1", "PASSWORD": passwords["n1"], "RESOURCE": "sensor",
            "MODE": mode, "SINK": f"sink@{DOMAIN}", "PUBSUB_SERVICE": f"pubsub.{DOMAIN}",
            "PUBSUB_NODE": "sensors/n1", "STARTTLS": "false", "SASL": sasl,
            "SERVER_TIMEOUT_S": "10", **(config or {}),
        }
        node = Node(binary, netns, settings)
        stack.callback(node.stop)
        yield node, sink, passwords, pcap
