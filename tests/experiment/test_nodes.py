"""Node apps: manifests, events, and a real app started in a node namespace and stopped."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.backends.emulated import EmulatedNetwork
from testbed.config.topology import parse_topology
from testbed.errors import BadInput
from testbed.experiment.nodes import NodeApp, interpreter, read_events
from testbed.experiment.run import Run

PAIR = "name: pair\nnodes:\n  br: {role: border-router}\n  n1: {role: sensor}\nlinks:\n  - [br, n1]\n"

# prints where its config is and how it is protected, then waits (optionally deaf to SIGTERM)
PROBE = """\
import json, os, signal, sys, time
path = sys.argv[1]
config = json.load(open(path))
if config.get("deaf"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(json.dumps({"event": "ready", "t": time.time(), "config": path,
                  "mode": os.stat(path).st_mode & 0o777, "name": config["name"],
                  "greeting": config["greeting"]}), flush=True)
print("not json", flush=True)
print(json.dumps({"event": "reading", "seq": 1, "t": time.time()}), flush=True)
print("half a line", file=sys.stderr, flush=True)
while True:
    time.sleep(0.1)
"""


def make_app(root: Path, manifest: str = 'name = "probe"\nprotocol = "coap"\nentry = "main.py"\n'
             '[defaults]\ngreeting = "hello"\n') -> Path:
    (root / "probe").mkdir(parents=True)
    (root / "probe" / "manifest.toml").write_text(manifest)
    (root / "probe" / "main.py").write_text(PROBE)
    return root


def test_manifest_defaults_and_overrides(tmp_path: Path) -> None:
    app = NodeApp.load("probe", nodes_dir=make_app(tmp_path))
    assert (app.name, app.protocol, app.entry) == ("probe", "coap", tmp_path / "probe" / "main.py")
    assert app.config({"name": "s1"}) == {"greeting": "hello", "name": "s1"}
    assert app.config({"greeting": "hi"})["greeting"] == "hi"


def test_bad_manifests_are_bad_input_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"nope/manifest.toml: no such node app"):
        NodeApp.load("nope", nodes_dir=tmp_path)
    make_app(tmp_path, 'name = "probe"\n')
    with pytest.raises(BadInput, match=r"probe/manifest.toml: missing key 'protocol'"):
        NodeApp.load("probe", nodes_dir=tmp_path)
    (tmp_path / "probe" / "manifest.toml").write_text("name = \n")
    with pytest.raises(BadInput, match=r"probe/manifest.toml: .*line 1"):
        NodeApp.load("probe", nodes_dir=tmp_path)


@pytest.mark.parametrize("app", ["coap-sensor", "xmpp-sensor"])
def test_the_project_apps_load(app: str) -> None:
    loaded = NodeApp.load(app)
    assert loaded.protocol == app.split("-")[0] and loaded.entry.is_file()
    assert "emulated" in loaded.platforms


def test_events_skip_what_is_not_an_event(tmp_path: Path) -> None:
    log = tmp_path / "n1.jsonl"
    log.write_text('{"event": "ready", "t": 1}\nnoise\n[1]\n{"no": "event"}\n'
                   '{"event": "reading", "seq": 3, "t": 2}\n{"event": "do')
    events = read_events(log)
    assert [e.kind for e in events] == ["ready", "reading"]
    assert events[1]["seq"] == 3 and events[1].get("missing", 7) == 7
    assert read_events(tmp_path / "absent.jsonl") == []


def test_interpreter_is_micropython_when_on_path() -> None:
    assert interpreter() == (shutil.which("micropython") or sys.executable)


@pytest.mark.slow
@pytest.mark.parametrize("deaf", [False, True], ids=["sigterm", "sigkill"])
def test_a_node_runs_in_its_namespace_with_a_private_config(tmp_path: Path, deaf: bool) -> None:
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN")
    app = NodeApp.load("probe", nodes_dir=make_app(tmp_path / "nodes"))
    topology = parse_topology(PAIR)
    run = Run.create(topology_name="pair", out=tmp_path / "reports")
    with EmulatedNetwork.up(topology, run=run) as net:
        logs = run.directory / "v" / "logs"
        running = app.start(net, "n1", {"name": "n1", "password": "s3cret", "deaf": deaf}, logs)
        try:
            deadline = time.monotonic() + 5
            while not running.events() and time.monotonic() < deadline:
                time.sleep(0.05)
            ready = running.events()[0]
            config = Path(ready["config"])
            assert ready["mode"] == 0o600 and ready["name"] == "n1" and ready["greeting"] == "hello"
            assert run.directory not in config.parents  # the password stays out of the run dir
            assert config.exists()
            pid_netns = os.readlink(f"/proc/{running.process.pid}/ns/net")
            assert pid_netns != os.readlink("/proc/self/ns/net")  # inside the node, not here
            assert [e.kind for e in running.events()] == ["ready", "reading"]
        finally:
            status = running.stop(timeout_s=0.5)
        assert status == (-9 if deaf else -15)
        assert not running.alive() and not config.exists() and not config.parent.exists()
    assert "s3cret" not in "".join(p.read_text(errors="replace")
                                   for p in run.directory.rglob("*") if p.is_file())
    assert (logs / "n1.err").read_text() == "half a line\n"
    assert json.loads((logs / "n1.jsonl").read_text().splitlines()[0])["event"] == "ready"
