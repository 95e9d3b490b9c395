"""The emulated backend for real: namespaces, TAPs, addresses, routes, and their removal.

Needs CAP_NET_ADMIN (root here); skipped with the way out otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed.backends.emulated import (
    EmulatedNetwork, netns_name, remove_created, tcp_rto_min_ms,
)
from testbed.backends.netns import has_net_admin
from testbed.backends.processes import ProcessRecord
from testbed.config.topology import parse_topology
from testbed.experiment.run import Run, list_runs
from tests.topologies import PAIR

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]



def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def of_run(run_id: str) -> set[str]:
    """Our run's namespaces in `ip netns list` (other test sessions may run beside us)."""
    return {n for n in netns_list() if n.startswith(f"tb-{run_id}-")}


@pytest.fixture
def bystander():
    """A namespace that is not ours: tear-down and `clean` must leave it alone."""
    name = f"tb-bystander-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    assert name in netns_list(), "a namespace we did not create was removed"
    subprocess.run(["ip", "netns", "del", name], check=True)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = tmp_path / "registry"
    monkeypatch.setenv("TESTBED_REGISTRY", str(path))
    return path


@pytest.fixture
def run(tmp_path, registry):
    run = Run.create(topology_name="pair", seed=3, out=tmp_path / "reports")
    yield run
    # Whatever a failing test left: remove exactly what the run registered.
    remove_created(run.entry.netns, run.entry.pids)


def ip_json(netns: str, *args: str) -> list[dict]:
    out = subprocess.run(
        ["ip", "-n", netns, "-j", *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout or "[]")


@pytest.mark.slow
def test_two_nodes_up_then_all_gone(run, bystander):
    topology = parse_topology(PAIR)
    with EmulatedNetwork.up(topology, run=run, seed=3) as net:
        ours = {netns_name(run.run_id, n) for n in ("br", "n1", "cloud")}
        assert of_run(run.run_id) == ours
        assert net.netns("n1") == f"tb-{run.run_id}-n1"

        (tap,) = ip_json(net.netns("n1"), "link", "show", "dev", "wpan0")
        assert tap["mtu"] == 1280
        assert tap["address"] == "02:00:00:00:00:02"
        assert "UP" in tap["flags"]

        addrs = {
            (a["local"], a["prefixlen"])
            for link in ip_json(net.netns("n1"), "-6", "addr", "show", "dev", "wpan0")
            for a in link["addr_info"]
        }
        assert ("fd00::ff:fe00:2", 128) in addrs  # a /128: the prefix is not on-link
        assert ("fe80::ff:fe00:2", 64) in addrs  # the kernel's, from the MAC
        assert str(net.address("n1")) == "fd00::ff:fe00:2"
        assert str(net.link_local("br")) == "fe80::ff:fe00:1"

        routes = {r["dst"]: r for r in ip_json(net.netns("n1"), "-6", "route")}
        assert routes["default"]["gateway"] == "fe80::ff:fe00:1"
        assert routes["default"]["metrics"] == [{"rto_min": tcp_rto_min_ms("n1", seed=3)}]
        br_routes = {r["dst"]: r for r in ip_json(net.netns("br"), "-6", "route")}
        assert br_routes["fd00::ff:fe00:2"]["gateway"] == "fe80::ff:fe00:2"
        assert br_routes["default"]["gateway"] == "fd01::1"
        assert br_routes["default"]["dev"] == "cloud0"
        cloud_routes = {r["dst"]: r for r in ip_json(net.netns("cloud"), "-6", "route")}
        assert cloud_routes["fd00::/64"]["gateway"] == "fd01::2"

        (neigh,) = ip_json(net.netns("n1"), "-6", "neigh", "show", "dev", "wpan0")
        assert neigh["dst"] == "fe80::ff:fe00:1"
        assert neigh["lladdr"] == "02:00:00:00:00:01"
        assert "PERMANENT" in neigh["state"]

        sysctl = net.exec("n1", ["cat", "/proc/sys/net/ipv6/conf/wpan0/accept_dad"],
                          capture_output=True, text=True, check=True)
        assert sysctl.stdout.strip() == "0"

        # Across the radio medium and the border router to the cloud and back.
        ping = net.exec("n1", ["ping", "-c1", "-W5", str(net.cloud_address)],
                        capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr

        spec = json.loads(net.spec_path.read_text())
        assert [n["netns"] for n in spec["nodes"]] == [net.netns("br"), net.netns("n1")]
        assert spec["links"] == [{"a": "br", "b": "n1", "prr": 1.0}]
        (medium,) = [p for p in run.entry.pids if p.name == "medium"]
        assert medium.alive()
        assert run.entry.path.exists()
    assert not medium.alive()
    assert of_run(run.run_id) == set()
    assert not run.entry.path.exists()
    assert json.loads(run.manifest_path.read_text())["ended"]


@pytest.mark.slow
def test_exception_inside_the_block_still_tears_down(run, bystander):
    with pytest.raises(RuntimeError, match="scenario failed"):
        with EmulatedNetwork.up(parse_topology(PAIR), run=run) as net:
            sleeper = net.popen("n1", ["sleep", "60"])
            raise RuntimeError("scenario failed")
    assert sleeper.wait(5) is not None  # killed with its namespace
    assert of_run(run.run_id) == set()
    assert list_runs() == []


@pytest.mark.slow
def test_sigterm_tears_down(tmp_path, registry, bystander):
    """SIGTERM to the process that holds the network up raises SystemExit and tears down."""
    proc = _testbed_up(tmp_path, PAIR)
    try:
        _wait_for(lambda: _up_and_ready(proc))
        (entry,) = list_runs()
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    assert proc.returncode == 0
    assert "down" in stdout
    assert list_runs() == []
    assert of_run(entry.run_id) == set()


@pytest.mark.slow
@pytest.mark.parametrize("remover", [["clean"], ["down"]], ids=["clean", "down"])
def test_after_sigkill_clean_or_down_removes_exactly_the_dead_run(
    tmp_path, registry, bystander, remover
):
    """`testbed up` killed by SIGKILL ran no tear-down; the registry still says what it made."""
    proc = _testbed_up(tmp_path, PAIR)
    try:
        _wait_for(lambda: _up_and_ready(proc))
        (entry,) = list_runs()
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise
    finally:
        proc.kill()  # SIGKILL: no tear-down ran
        proc.wait()
    assert of_run(entry.run_id) == set(entry.netns)  # leftovers: exactly what the registry lists
    assert entry.pids  # the medium at least
    _wait_for(lambda: not any(p.alive() for p in entry.pids))  # the kernel ended them
    clean = subprocess.run(
        [sys.executable, "-m", "testbed.cli", *remover], capture_output=True, text=True,
        timeout=60,
    )
    assert clean.returncode == 0, clean.stderr
    assert "killed" not in clean.stdout  # nothing was left running for it to kill
    for name in entry.netns:
        assert f"deleted namespace {name}" in clean.stdout
    assert of_run(entry.run_id) == set()
    assert list_runs() == []
    for p in entry.pids:
        assert not p.alive()


def test_a_new_run_first_removes_the_runs_of_dead_owners_in_one_line_each(
    tmp_path, registry, bystander, capsys
):
    """What a SIGKILL left (namespaces; a process from before the kernel's parent-death
    signal) goes when the next run starts; a live owner's run and a stranger's namespace stay."""
    owner = subprocess.Popen(["sleep", "60"])
    dead = ProcessRecord.of(owner.pid, "owner")
    owner.kill()
    owner.wait()
    straggler = subprocess.Popen(["sleep", "60"], start_new_session=True)
    dead_id, live_id = secrets.token_hex(3), secrets.token_hex(3)
    dead_ns, live_ns = netns_name(dead_id, "n1"), netns_name(live_id, "n1")
    registry.mkdir()
    for run_id, who, names, pids in (
        (dead_id, dead, [dead_ns, netns_name(dead_id, "cloud")],
         [ProcessRecord.of(straggler.pid, "node n1")]),
        (live_id, ProcessRecord.of(os.getpid(), "owner"), [live_ns], []),
    ):
        (registry / f"{run_id}.json").write_text(json.dumps({
            "run_id": run_id, "owner": who.to_json(), "directory": str(tmp_path),
            "netns": names, "pids": [p.to_json() for p in pids], "nodes": {}}))
        subprocess.run(["ip", "netns", "add", names[0]], check=True)
    try:
        run = Run.create(topology_name="pair", out=tmp_path / "reports")
        assert capsys.readouterr().err == (
            f"testbed: removed stale run {dead_id} of dead pid {dead.pid}: "
            "1 namespaces, 1 processes\n")  # the cloud's was never made: nothing to delete
        assert straggler.wait(10) in (-signal.SIGTERM, -signal.SIGKILL)
        assert of_run(dead_id) == set()
        assert of_run(live_id) == {live_ns}
        assert {e.run_id for e in list_runs()} == {live_id, run.run_id}
    finally:
        straggler.kill()
        straggler.wait()
        subprocess.run(["ip", "netns", "del", live_ns], check=False)
        subprocess.run(["ip", "netns", "del", dead_ns], check=False, capture_output=True)


def _has_all(entry) -> bool:  # type: ignore[no-untyped-def]
    return all(Path("/run/netns", n).exists() for n in entry.netns) and bool(entry.pids)


def _up_and_ready(proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"`testbed up` exited {proc.returncode}: {proc.stderr.read()}")
    runs = list_runs()
    return bool(runs) and _has_all(runs[0]) and _routes_in(runs[0])


def _routes_in(entry) -> bool:  # type: ignore[no-untyped-def]
    """The last bring-up step (cloud routes) is done."""
    out = subprocess.run(["ip", "-n", entry.nodes["cloud"], "-6", "route"],
                         capture_output=True, text=True)
    return "fd00::/64" in out.stdout


def _wait_for(predicate, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_not_a_string_argv(run):
    net = EmulatedNetwork(parse_topology(PAIR), run=run)
    with pytest.raises(TypeError, match="no shell"):
        net.exec("n1", "ip addr")  # type: ignore[arg-type]
    assert net.netns("cloud") == f"tb-{run.run_id}-cloud"


def test_a_medium_that_dies_before_ready_fails_bring_up_and_leaves_nothing(run, monkeypatch):
    """The medium exits at once (here: a module that does not exist): bring-up raises a
    NetworkError naming the medium's log, and every namespace made so far is removed."""
    import testbed.backends.emulated as emulated
    from testbed.errors import NetworkError

    monkeypatch.setattr(emulated, "MEDIUM_MODULE", "testbed.radio.no_such_medium")
    with pytest.raises(NetworkError, match=r"radio medium: .*medium\.log"):
        with EmulatedNetwork.up(parse_topology(PAIR, "pair.yaml"), run=run):
            pytest.fail("the network came up without a medium")
    assert of_run(run.run_id) == set()
    assert list_runs() == []


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.05, 0.3])
def test_ctrl_c_during_bring_up_leaves_nothing(tmp_path, registry, delay_s):
    """SIGINT while a 30-node grid is coming up: status 130, no namespace, no medium, no entry."""
    from testbed.config.generate import grid

    proc = _testbed_up(tmp_path, _grid_yaml(grid(30)))
    try:
        _wait_for(lambda: list_runs() != [] or proc.poll() is not None)
        time.sleep(delay_s)
        entries = list_runs()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode in (0, 130)  # 0: it was already up and tore down on the signal
    assert list_runs() == []
    for entry in entries:
        assert of_run(entry.run_id) == set()


def _grid_yaml(topology) -> str:
    lines = [f"name: {topology.name}", f"radio: {{range: {topology.radio.range}}}", "nodes:"]
    for name, node in topology.nodes.items():
        x, y = node.position
        lines.append(f"  {name}: {{role: {node.role}, position: [{x}, {y}]}}")
    return "\n".join(lines) + "\n"


def _testbed_up(tmp_path: Path, topology_yaml: str) -> subprocess.Popen[str]:
    """`testbed up` on a topology written to tmp_path, as a user runs it: its own process."""
    topo = tmp_path / "topology.yaml"
    topo.write_text(topology_yaml)
    return subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "up", str(topo), "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
