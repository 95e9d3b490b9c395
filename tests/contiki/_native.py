"""Contiki-NG node apps built for TARGET=native and run in a fresh network namespace (a helper
of tests/contiki, not a test module).

Contiki's native tun (arch/cpu/native/net/tun6-net.c) creates tun0 in the namespace the node
runs in and then configures it with `ifconfig` through system(). Debian has no ifconfig by
default, and where net-tools is installed it sits in /usr/sbin: the node runs with
PATH=/usr/bin:/bin so the shell never finds it, and the test configures tun0 with `ip` (argv
lists) instead: up, and fd00::1/64, the default prefix's ::1 that Contiki takes as its
default router. The node's address is that prefix plus the IID of the native platform's
link-layer address 01:02:03:04:05:06:07:08 (universal/local bit flipped).
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from ipaddress import IPv6Address
from pathlib import Path

import pytest

from testbed.backends.processes import dies_with_parent

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "nodes" / "contiki"
CONTIKI = ROOT / "build" / "contiki-ng"
BUILD = ROOT / "build" / "tests" / "contiki"

NODE_ADDRESS = IPv6Address("fd00::302:304:506:708")
HOST_ADDRESS = "fd00::1/64"
NODE_PATH = "/usr/bin:/bin"  # no /usr/sbin: tun6-net's ifconfig calls find nothing


def build(app: str, target: str = "native", **variables: str) -> Path:
    """make the app for `target` into build/tests/contiki/<app>/ (incremental; a file lock
    keeps two pytest sessions from building into one folder at once); the ELF's path. Make
    variables that change the code (all but TARGETDIRS, which names the medium platform) get
    a folder of their own: Contiki's make does not rebuild when they change."""
    if not (CONTIKI / "Makefile.include").exists():
        pytest.skip(f"no Contiki-NG tree at {CONTIKI} (make contiki)")
    options = "-".join(f"{k}={v}" for k, v in sorted(variables.items()) if k != "TARGETDIRS")
    build_dir = BUILD / (f"{app}-{options}" if options else app)
    build_dir.mkdir(parents=True, exist_ok=True)
    argv = ["make", "-C", str(APPS / app), f"TARGET={target}", f"BUILD_DIR={build_dir}",
            f"CONTIKI={CONTIKI}", "-j2", *(f"{k}={v}" for k, v in variables.items())]
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"make {app} for {target} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return build_dir / target / f"{app}.{target}"


def run_ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class NativeNode:
    """`with NativeNode(binary, {"OBSERVE": "con"}) as node:` a native Contiki node in its own
    network namespace, configured by TESTBED_<KEY> variables; its JSON events are collected.

    Constructing does no I/O. __enter__ creates the namespace, starts the node, configures
    tun0 and waits for the "ready" event; __exit__ (also after a failure) stops the node and
    removes the namespace."""

    def __init__(self, binary: Path, config: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self.config = dict(config or {})
        self.netns = f"tb-{secrets.token_hex(3)}-ctk"
        self.address = NODE_ADDRESS
        self.process: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader: threading.Thread | None = None
        self.netns_made = False

    # --- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> NativeNode:
        try:
            self.start()
            self.wait_for_tun()
            self.wait_event("ready")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """tun0 exists, up and addressed, before the node starts: Contiki's tun6 driver then
        attaches to it (TUNSETIFF by name). Made by the node itself, it was down until this
        side brought it up, and a node that wrote first (an mDNS probe 0-250 ms after boot)
        got EIO, which tun6_net_output treats as fatal: about one start in eight died."""
        run_ip("netns", "add", self.netns)
        self.netns_made = True
        run_ip("-n", self.netns, "link", "set", "lo", "up")
        run_ip("-n", self.netns, "tuntap", "add", "dev", "tun0", "mode", "tun")
        run_ip("-n", self.netns, "link", "set", "tun0", "up")
        run_ip("-n", self.netns, "addr", "add", HOST_ADDRESS, "dev", "tun0", "nodad")
        env = {"PATH": NODE_PATH, **{f"TESTBED_{k}": v for k, v in self.config.items()}}
        self.process = subprocess.Popen(
            dies_with_parent(["ip", "netns", "exec", self.netns, str(self.binary)]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def wait_for_tun(self, timeout_s: float = 10.0) -> None:
        """Until the node has opened tun0 (its carrier comes up when a process attaches)."""
        deadline = time.monotonic() + timeout_s
        while "NO-CARRIER" in subprocess.run(["ip", "-n", self.netns, "link", "show", "tun0"],
                                             capture_output=True, text=True).stdout:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"the node did not open tun0 in {timeout_s} s:\n"
                                     f"{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=3)
            except ProcessLookupError:
                pass
        if self.reader is not None:
            self.reader.join(timeout=3)
        if self.netns_made:
            subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
            self.netns_made = False

    def _read(self) -> None:
        for raw in self.process.stdout:
            with self.changed:
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    # --- what the node said --------------------------------------------------------------

    def output(self) -> str:
        with self.changed:
            return "\n".join(self.lines[-40:])

    def events(self, kind: str | None = None) -> list[dict]:
        """The JSON event lines so far (the other lines are Contiki's log)."""
        with self.changed:
            lines = list(self.lines)
        found = []
        for line in lines:
            if line.startswith("{"):
                event = json.loads(line)  # a C event line that is not JSON fails the test
                if kind is None or event["event"] == kind:
                    found.append(event)
        return found

    def wait_event(self, kind: str, count: int = 1, timeout_s: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                found = self.events(kind)
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None and not self._pending():
                    raise AssertionError(f"{count} x {kind!r} not seen in {timeout_s} s; "
                                         f"node output:\n{self.output()}")
                self.changed.wait(min(left, 0.2))

    def _pending(self) -> bool:
        return self.reader is not None and self.reader.is_alive()

    def exit_status(self, timeout_s: float = 10.0) -> int:
        return self.process.wait(timeout=timeout_s)

    # --- tools in the namespace ------------------------------------------------------------

    def run(self, argv: Sequence[str], timeout_s: float = 60.0) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True,
                              timeout=timeout_s)


def coap_client_binary() -> str:
    for name in ("coap-client-notls", "coap-client", "coap-client-gnutls", "coap-client-openssl"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no libcoap coap-client (apt-get install libcoap3-bin)")


# --- libcoap's coap-client as the independent oracle ------------------------------------------

class CoapMessage:
    """One CoAP message as coap-client's debug log (-v 7) shows it: what it received from
    or sent to the node, decoded by libcoap, not by the project."""

    def __init__(self, direction: str, mtype: str, code: str, mid: int, token: str,
                 options: list[tuple[str, str]], payload: bytes | None) -> None:
        self.direction, self.mtype, self.code, self.mid = direction, mtype, code, mid
        self.token, self.options, self.payload = token, options, payload

    def option(self, name: str) -> str | None:
        values = [v for n, v in self.options if n == name]
        return values[-1] if values else None

    def __repr__(self) -> str:
        return (f"<{self.direction} {self.mtype} {self.code} mid={self.mid:#x} {self.options} "
                f"{self.payload!r}>")


PDU = re.compile(r"^v:1 t:(CON|NON|ACK|RST) c:(\S+) i:([0-9a-f]+) \{([0-9a-f]*)\} "
                 r"\[ ?(.*?) ?\](?: :: (.*))?$")
BINARY = re.compile(r"^<<([0-9a-f]*)>>$")


def parse_coap_log(text: str) -> list[CoapMessage]:
    """The PDUs in coap-client's debug output, each with the direction of the datagram
    ("sent"/"received") named on the log line before it."""
    messages: list[CoapMessage] = []
    direction = "?"
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if " UDP : sent " in line:
            direction = "sent"
        elif " UDP : received " in line:
            direction = "received"
        match = PDU.match(line)
        if match is None:
            continue
        mtype, code, mid, token, options_text, payload_text = match.groups()
        options = []
        for part in filter(None, (p.strip() for p in options_text.split(","))):
            name, _, value = part.partition(":")
            options.append((name, value))
        payload: bytes | None = None
        if payload_text is not None:
            if payload_text.startswith("binary data length"):
                following = BINARY.match(lines[i + 1]) if i + 1 < len(lines) else None
                assert following, f"no hex dump after {line!r}"
                payload = bytes.fromhex(following[1])
            else:
                assert payload_text.startswith("'") and payload_text.endswith("'"), payload_text
                payload = payload_text[1:-1].encode()
        messages.append(CoapMessage(direction, mtype, code, int(mid, 16), token, options, payload))
    return messages


def coap_client(node: NativeNode, *args: str, timeout_s: float = 60.0) -> list[CoapMessage]:
    """Run coap-client in the node's namespace (payload output to /dev/null, its debug log
    parsed): every message, sent and received, in log order."""
    done = node.run([coap_client_binary(), "-v", "7", "-o", "/dev/null", *args],
                    timeout_s=timeout_s)
    log = done.stdout.decode("utf-8", errors="replace") + done.stderr.decode("utf-8", errors="replace")
    messages = parse_coap_log(log)
    if not any(m.direction == "received" for m in messages):
        raise AssertionError(f"coap-client {' '.join(args)} got nothing (exit {done.returncode}):"
                             f"\n{log[-3000:]}\nnode output:\n{node.output()}")
    return messages


def received(messages: list[CoapMessage]) -> list[CoapMessage]:
    return [m for m in messages if m.direction == "received"]


def load_python_module(name: str, path: Path):
    """Import a Python node app's module under a unique name (both apps have a main.py);
    its folder goes on sys.path for the app's own imports (coap, reading, xmltok)."""
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ZeroconfPeer:
    """python-zeroconf on a native node's tun0, in its namespace
    (nodes/xmpp-sensor/tests/zeroconf_peer.py: `browse TYPE` or `publish INSTANCE TYPE PORT
    [k=v ...]`); what it resolves is read as it comes. `with ZeroconfPeer(ns, "browse", t):`"""

    SCRIPT = ROOT / "nodes" / "xmpp-sensor" / "tests" / "zeroconf_peer.py"

    def __init__(self, netns: str, *args: str) -> None:
        self.argv = ["ip", "netns", "exec", netns, sys.executable, str(self.SCRIPT), "tun0",
                     *args]
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None

    def __enter__(self) -> ZeroconfPeer:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        stdout = self.process.stdout
        assert stdout is not None
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(stdout.readline,
                                                                             "")), daemon=True)
        self.reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None and self.reader is not None
        self.process.terminate()
        self.process.wait(10)
        self.reader.join(10)

    def services(self) -> list[dict]:
        """What it resolved so far: {"name", "server", "port", "addresses", "properties"}."""
        return [json.loads(line)["service"] for line in list(self.lines) if '"service"' in line]

    def wait_for(self, name: str, timeout_s: float = 15.0) -> list[dict]:
        """Until it has resolved the instance `name` (or the time is up): what it resolved."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not any(s["name"] == name
                                                      for s in self.services()):
            time.sleep(0.1)
        return self.services()
