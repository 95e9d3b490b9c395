"""A node app (nodes/<app>/) run inside an emulated node: its manifest, its process, its events.

`NodeApp.load("coap-sensor")` reads nodes/<app>/manifest.toml. `app.start(net, node, config,
directory)` writes CONFIG.json into a private temporary directory (mode 0600: it can hold a
password, so it never lands in the run directory and is deleted when the node stops), starts
`[interpreter, main.py, CONFIG.json]` in the node's namespace (stdout -> logs/<node>.jsonl,
stderr -> logs/<node>.err) and returns a `RunningNode`. The node's stdout is JSON lines, one
event each (docs/CONTRACTS.md "Node firmware"); `read_events` parses them.

Not here: what the firmware does (nodes/), the services it talks to (services/).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testbed.errors import BadInput
from testbed.jsonlines import read_json_lines
from testbed.firmware import nodes_dir

if TYPE_CHECKING:
    from testbed.backends.emulated import EmulatedNetwork

NODES_DIR = nodes_dir()
STOP_TIMEOUT_S = 3.0
EVENT_KINDS = ("ready", "phase", "reading", "done", "error", "reconnect", "queued", "dropped",
               "observe", "stopped")


def interpreter() -> str:
    """`micropython` when it is on PATH (what a board runs), else this Python."""
    return shutil.which("micropython") or sys.executable


@dataclass(frozen=True, slots=True)
class Event:
    """One line a node printed: `kind` is its "event" field, `data` the whole object."""

    kind: str
    data: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def read_events(path: Path) -> list[Event]:
    """The events in a node's JSON-lines log; lines that are not JSON objects are skipped
    (a crash's last half line, a stray print)."""
    return [Event(kind=data["event"], data=data) for data in read_json_lines(path)
            if isinstance(data.get("event"), str)]


@dataclass(frozen=True, slots=True)
class NodeApp:
    """An app from nodes/<name>/, described by its manifest.toml."""

    name: str
    protocol: str
    entry: Path
    platforms: tuple[str, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, name: str, *, nodes_dir: Path = NODES_DIR) -> NodeApp:
        manifest = nodes_dir / name / "manifest.toml"
        try:
            data = tomllib.loads(manifest.read_text())
        except FileNotFoundError:
            raise BadInput(f"{manifest}: no such node app") from None
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"{manifest}: {exc}") from None
        try:
            entry = nodes_dir / name / str(data.get("entry", "main.py"))
            return cls(
                name=str(data.get("name", name)), protocol=str(data["protocol"]), entry=entry,
                platforms=tuple(data.get("platforms", ("emulated",))),
                defaults=dict(data.get("defaults", {})),
            )
        except KeyError as exc:
            raise BadInput(f"{manifest}: missing key {exc.args[0]!r}") from None

    def config(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The manifest's defaults with the runner's settings on top."""
        return {**self.defaults, **overrides}

    def start(
        self, net: EmulatedNetwork, node: str, config: Mapping[str, Any], logs: Path,
        *, private_root: Path | None = None,
    ) -> RunningNode:
        """Start the app in `node`'s namespace with `config`; logs go to `logs/<node>.*`.

        CONFIG.json (it may hold a password) goes to a 0700 directory under `private_root`
        (the run's private directory, which `testbed clean` removes) and is deleted when the
        node stops. On a Contiki PAN the app's C firmware (nodes/contiki/<app>/) runs instead,
        with the same configuration as TESTBED_<KEY> variables (`firmware_env`)."""
        if net.is_contiki:
            process = net.start_firmware(node, self.name, firmware_env(self.config(config)))
            return RunningNode(node=node, app=self, process=process.process,
                               events_path=process.events, err_path=process.err,
                               private_dir=process.workdir,  # None: a lab board's app
                               record=process.record,
                               stopper=None if process.process.pid else process.stop)
        private = Path(tempfile.mkdtemp(prefix=f"node-{node}-", dir=private_root))
        config_path = private / "CONFIG.json"
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.config(config), f)
        logs.mkdir(parents=True, exist_ok=True)
        events_path, err_path = logs / f"{node}.jsonl", logs / f"{node}.err"
        argv = [interpreter(), str(self.entry), str(config_path)]
        try:
            with open(events_path, "wb") as out, open(err_path, "wb") as err:
                proc = net.popen(node, argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 cwd=str(self.entry.parent), start_new_session=True)
        except BaseException:
            shutil.rmtree(private, ignore_errors=True)
            raise
        record = net.run.record_pid(proc.pid, f"node {node}")
        return RunningNode(node=node, app=self, process=proc, events_path=events_path,
                           err_path=err_path, private_dir=private, record=record)


def firmware_env(config: Mapping[str, Any]) -> dict[str, str]:
    """CONFIG.json as a C app reads it (nodes/contiki/common/node-config.h): TESTBED_<KEY>,
    lists comma-separated, booleans 1/0, null as an empty value (set, so the app's default
    does not apply: observe null is GET mode). The environment of a process is readable by
    its owner only (/proc/<pid>/environ is 0400), so a password may go there."""
    env = {}
    for key, value in config.items():
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, list | tuple):
            text = ",".join(str(v) for v in value)
        else:
            text = str(value)
        env[f"TESTBED_{key.upper()}"] = text
    return env


@dataclass(slots=True)
class RunningNode:
    node: str
    app: NodeApp
    process: subprocess.Popen[bytes]
    events_path: Path
    err_path: Path
    #: the node's private files on this machine (its CONFIG.json, a Contiki process's
    #: workdir), removed when it stops; None for a lab board's app (nothing of it is here)
    private_dir: Path | None
    record: Any = None
    #: how to stop a node that is no process of ours (a lab board's app); None: signal it
    stopper: Callable[[], int | None] | None = None

    def events(self) -> list[Event]:
        return read_events(self.events_path)

    def alive(self) -> bool:
        return self.process.poll() is None

    def failure(self) -> str | None:
        """Why the node failed, if it did: an exit we did not cause, or an error event before
        any reading (errors it recovered from stay in its log as findings)."""
        lost = getattr(getattr(self.process, "console", None), "error", None)
        if lost:  # a lab board whose console went away (unplugged, ser2net gone)
            return str(lost)
        events = self.events()
        errors = [e for e in events if e.kind == "error"]
        stopped = (0, -signal.SIGTERM, -signal.SIGKILL, 128 + signal.SIGTERM)
        if not self.alive() and self.process.returncode not in stopped:
            tail = self.err_path.read_text(errors="replace").strip().splitlines()[-1:] \
                if self.err_path.exists() else []
            return (f"{self.node}: {self.app.name} exited with {self.process.returncode}; "
                    f"last stderr: {tail[0] if tail else ''!r}; full log: {self.err_path}")
        if errors and not any(e.kind == "reading" for e in events):
            return f"{self.node}: {errors[-1].get('what')}"  # (an error it recovered from is not)
        return None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM the node (its whole process group), SIGKILL after `timeout_s`."""
        try:
            if self.stopper is not None:
                return self.stopper()
            if self.process.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.process.wait()
            return self.process.returncode
        finally:
            if self.private_dir is not None:
                shutil.rmtree(self.private_dir, ignore_errors=True)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
