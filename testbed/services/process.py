"""A service module run as its own process inside a namespace, ready once it prints READY.

`python -m testbed.services.<module> CONFIG.json`: the config is written beside the log, the
process's stdout and stderr go to the log, and the lines it prints (READY, then its own such
as "SERVER up") are what the runner waits for. Used by the border router's mDNS services
(collector, advertising proxy, discovery proxy); stop is SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from testbed.backends.processes import dies_with_parent, stop_process
from testbed.errors import TestbedError

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


class ServiceError(TestbedError):
    """A service process did not say what it was expected to say in time."""


class ServiceProcess:
    module = ""  # testbed.services.<module>
    what = ""  # how errors name it

    def __init__(self, *, netns: str, log: Path, config: dict[str, Any]) -> None:
        self.netns, self.log, self.config = netns, Path(log), config
        self.config_path = self.log.with_name(self.log.stem + ".config.json")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServiceProcess:
        self.start()
        self.ready()
        return self

    def start(self) -> None:
        """Start the process without waiting for it (ready() waits; stop() ends it)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config, indent=1))
        argv = ["ip", "netns", "exec", self.netns, sys.executable, "-m",
                f"testbed.services.{self.module}", str(self.config_path)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(dies_with_parent(argv), stdout=log,
                                            stderr=subprocess.STDOUT,
                                            cwd=Path(__file__).resolve().parents[2])

    def ready(self) -> None:
        """Wait for READY; a process that never says it is stopped, and the error raised."""
        try:
            self.wait_for(b"READY", READY_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise

    def said(self, word: bytes) -> int:
        """How many lines of the log are exactly `word`."""
        return sum(1 for line in self.log.read_bytes().splitlines() if line.strip() == word)

    def wait_for(self, word: bytes, timeout_s: float, count: int = 1) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.said(word) >= count:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log.read_bytes()[-400:]
        raise ServiceError(f"{self.what} in {self.netns}: no {word.decode()!r} within "
                           f"{timeout_s} s; last bytes: {tail!r}; log: {self.log}")

    def stop(self) -> None:
        stop_process(self.process, STOP_TIMEOUT_S)

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- inside the service processes ---------------------------------------------------------


def say(line: str) -> None:
    """A line the runner waits for (READY, SERVER up ...), out at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stop_on_signals() -> Any:
    """An asyncio.Event that SIGTERM or SIGINT sets: the service's loop ends, it says goodbye."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def zeroconf_on(interface: str) -> Any:
    """python-zeroconf's AsyncZeroconf on `interface` only, IPv6 only (the PAN's link)."""
    import socket

    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncZeroconf

    return AsyncZeroconf(interfaces=[socket.if_nametoindex(interface)],
                         ip_version=IPVersion.V6Only)
