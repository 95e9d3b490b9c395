"""Run directory, manifest and the registry of live runs (no privileges needed)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys

import pytest

from testbed.backends.processes import ProcessRecord
from testbed.errors import NetworkError, TestbedError
from testbed.experiment.run import (
    Run, find_run, list_runs, load_entry, new_run_id, remove_entry, remove_stale_runs,
)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = tmp_path / "registry"
    monkeypatch.setenv("TESTBED_REGISTRY", str(path))
    return path


def _run(tmp_path, **kw) -> Run:
    topo = tmp_path / "line.yaml"
    topo.write_text("name: line\n")
    return Run.create(
        topology_name="line", topology_source=topo, seed=7, out=tmp_path / "reports",
        argv=["testbed", "up", str(topo)], **kw,
    )


def test_run_id_is_six_hex_characters():
    ids = {new_run_id() for _ in range(50)}
    assert all(re.fullmatch(r"[0-9a-f]{6}", i) for i in ids)
    assert len(ids) > 40  # random, not a counter


def test_run_directory_and_manifest(tmp_path, registry):
    run = _run(tmp_path)
    assert re.fullmatch(rf"\d{{8}}-\d{{6}}-{run.run_id}", run.directory.name)
    assert run.directory.parent == (tmp_path / "reports").resolve()
    assert run.logs.is_dir()
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["run_id"] == run.run_id
    assert manifest["topology"]["name"] == "line"
    assert manifest["topology"]["source"] == str((tmp_path / "line.yaml").resolve())
    assert manifest["topology"]["sha256"] == hashlib.sha256(b"name: line\n").hexdigest()
    assert manifest["seed"] == 7
    assert manifest["ended"] is None
    assert manifest["kernel"].startswith("Linux ")
    assert manifest["argv"][:2] == ["testbed", "up"]
    run.finish()
    ended = json.loads(run.manifest_path.read_text())["ended"]
    assert ended >= manifest["started"]


def test_registry_round_trip(tmp_path, registry):
    run = _run(tmp_path)
    run.record_nodes({"br": f"tb-{run.run_id}-br"})
    run.record_netns([f"tb-{run.run_id}-br", f"tb-{run.run_id}-cloud"])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run.record_pid(child.pid, "sleeper")
        entry = load_entry(registry / f"{run.run_id}.json")
        assert entry.run_id == run.run_id
        assert entry.owner == ProcessRecord.of(os.getpid(), "owner")
        assert entry.directory == run.directory
        assert entry.netns == [f"tb-{run.run_id}-br", f"tb-{run.run_id}-cloud"]
        assert entry.nodes == {"br": f"tb-{run.run_id}-br"}
        assert [(p.pid, p.name) for p in entry.pids] == [(child.pid, "sleeper")]
        assert entry.pids[0].alive()
        assert [e.run_id for e in list_runs()] == [run.run_id]
        assert find_run().run_id == run.run_id  # the one live run
        assert find_run(run.run_id).run_id == run.run_id
    finally:
        child.kill()
        child.wait()
    remove_entry(entry)
    assert list_runs() == []
    with pytest.raises(TestbedError, match="no live run"):
        find_run()
    with pytest.raises(TestbedError, match="no run 'abcdef'"):
        find_run("abcdef")


def test_two_live_runs_need_a_choice(tmp_path, registry):
    a, b = _run(tmp_path), _run(tmp_path)
    with pytest.raises(TestbedError, match=r"2 live runs .*--run ID"):
        find_run()
    assert find_run(b.run_id).run_id == b.run_id
    a.close()
    assert find_run().run_id == b.run_id


def test_run_of_a_dead_owner_is_not_live(tmp_path, registry):
    run = _run(tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run.entry.owner = ProcessRecord(pid=gone.pid, start_time=1, name="owner")
    run.entry.save()
    (entry,) = list_runs()
    assert not entry.owner_alive()
    with pytest.raises(TestbedError, match="no live run .*; 1 dead runs: see `testbed clean`"):
        find_run()
    assert find_run(or_dead=True).run_id == run.run_id  # what `testbed down` falls back on
    live = _run(tmp_path)
    assert [e.run_id for e in list_runs()] == [live.run_id]  # it removed the dead one first
    run.entry.save()  # a dead run beside a live one (left after the live one began)
    assert find_run(or_dead=True).run_id == live.run_id  # a live run wins


def test_damaged_registry_file_names_itself(tmp_path, registry):
    registry.mkdir()
    (registry / "abc123.json").write_text("{not json")
    with pytest.raises(NetworkError, match=r"abc123\.json: unreadable registry entry"):
        load_entry(registry / "abc123.json")
    assert list_runs() == []


def test_an_entry_listing_a_namespace_not_of_its_run_is_refused(tmp_path) -> None:
    """`clean` deletes what an entry lists, so an entry naming someone else's namespace
    (or an injected line) is refused before anything is deleted."""
    import json

    from testbed.errors import NetworkError
    from testbed.experiment.run import load_entry

    for name in ("tb-abcdef-n1\nnetns del prod", "prod-ns", "tb-123456-n1"):
        path = tmp_path / "abcdef.json"
        path.write_text(json.dumps({
            "run_id": "abcdef", "owner": {"pid": 1, "start_time": 1, "name": "owner"},
            "directory": str(tmp_path), "netns": [name], "pids": [], "nodes": {},
        }))
        with pytest.raises(NetworkError, match="is not one of run 'abcdef'"):
            load_entry(path)


def test_the_private_directory_is_0700_and_goes_with_the_entry(tmp_path) -> None:
    """Secrets (account stores, node configs) live beside the registry entry, not in /tmp or
    reports/, so `testbed clean` removes them even after a SIGKILL."""
    import stat

    from testbed.experiment.run import Run, list_runs, private_dir_of, remove_entry

    run = Run.create(topology_name="pair", out=tmp_path / "reports", registry=tmp_path / "reg")
    private = run.private_dir
    (private / "CONFIG.json").write_text("{}")
    assert private.parent == tmp_path / "reg" and stat.S_IMODE(private.stat().st_mode) == 0o700
    (entry,) = list_runs(tmp_path / "reg")  # the directory is not taken for an entry
    assert private_dir_of(entry) == private
    remove_entry(entry)
    assert not private.exists() and list_runs(tmp_path / "reg") == []


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_new_run_removes_only_the_runs_of_dead_owners(tmp_path, registry, capfd):
    """A dead owner's run goes (what it recorded is killed), also when its pid now belongs to
    another process (the start time differs); a run whose owner lives (another session, another
    `testbed up`) is not touched, nor is any process it recorded. One line each, on stderr:
    stdout stays what the command prints (pure JSON for --json)."""
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    other_session, left_over, recycled_left_over, its_child = (_sleeper() for _ in range(4))
    mine = ProcessRecord.of(os.getpid(), "owner")
    owners = {
        "dead": ProcessRecord(pid=exited.pid, start_time=1, name="owner"),
        "recycled": ProcessRecord(pid=mine.pid, start_time=mine.start_time + 1, name="owner"),
        "live": ProcessRecord.of(other_session.pid, "owner"),
    }
    children = {"dead": left_over, "recycled": recycled_left_over, "live": its_child}
    ids = {}
    try:
        runs = {kind: _run(tmp_path) for kind in owners}  # all live while they are made
        for kind, run in runs.items():
            run.entry.owner = owners[kind]
            run.record_pid(children[kind].pid, "node n1")
            run.record_netns([f"tb-{run.run_id}-n1"])  # never made: nothing to delete
            ids[kind] = run.run_id
        capfd.readouterr()
        new = _run(tmp_path)
        out, err = capfd.readouterr()
        assert out == ""
        assert sorted(err.splitlines()) == sorted(
            f"testbed: removed stale run {ids[kind]} of dead pid {owners[kind].pid}: "
            "0 namespaces, 1 processes" for kind in ("dead", "recycled"))
        assert left_over.wait(10) == -signal.SIGTERM
        assert recycled_left_over.wait(10) == -signal.SIGTERM
        assert other_session.poll() is None and its_child.poll() is None
        assert {e.run_id for e in list_runs()} == {ids["live"], new.run_id}
        assert remove_stale_runs() == []  # nothing dead is left: nothing to say
    finally:
        for p in (other_session, left_over, recycled_left_over, its_child):
            p.kill()
            p.wait()


def test_a_dead_run_two_processes_find_at_once_is_removed_and_reported_once(tmp_path, registry):
    """Two sessions starting together (or a run and `testbed clean`) find the same dead run:
    the one that finds it being removed waits, then says nothing (the other said it)."""
    import fcntl
    import threading

    run = _run(tmp_path)
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    run.entry.owner = ProcessRecord(pid=exited.pid, start_time=1, name="owner")
    run.entry.save()
    said: list[list[str]] = []
    fd = os.open(run.entry.path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the other one is removing it
        second = threading.Thread(target=lambda: said.append(remove_stale_runs()))
        second.start()
        second.join(0.3)
        assert second.is_alive()  # it waits for the first
        remove_entry(run.entry)
    finally:
        os.close(fd)
    second.join(10)
    assert said == [[]]
    assert list_runs() == []


def test_a_remover_stuck_on_a_dead_run_is_waited_for_only_so_long(tmp_path, registry):
    """A remover stuck in the kernel must not hang every later run: the wait ends in a
    NetworkError naming the entry and the run (remove_stale_runs turns it into its line)."""
    import fcntl

    from testbed.experiment.run import _lock

    run = _run(tmp_path)
    holder = os.open(run.entry.path, os.O_RDONLY)
    waiter = os.open(run.entry.path, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(NetworkError, match=rf"{re.escape(str(run.entry.path))}: another "
                           rf"process has been removing run {run.run_id} for 0.2 s"):
            _lock(waiter, run.entry, timeout_s=0.2)
    finally:
        os.close(holder)
        os.close(waiter)
