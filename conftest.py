"""The repository's own pytest configuration: the leak guard every test runs under (tests/,
nodes/*/tests and suites/ alike) and the hypothesis profile for CI. The testbed plugin itself
comes from the package's `pytest11` entry point, as it does for a lab's suite.

The issue's rule is that after every test `ip netns list` shows nothing of ours and no process
of ours is left. This guard checks exactly that after each test, so a leaking tear-down fails the
test that leaked rather than a later one.

"Ours" means: a `tb-` namespace or a testbed process that appeared during the test and does not
belong to a run some other live process owns (another developer's `testbed up`, a concurrent
pytest session). Runs are attributed through their registry entry's owner pid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest
from hypothesis import settings

from testbed.experiment.run import list_runs
from testbed.pytest_plugin import live_run_ids

# CI runs the property tests derandomized: the same examples every time, so a red CI is a
# regression, not a newly found example (those turn up in developers' randomized runs).
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

pytest_plugins = ["pytester"]  # the plugin's own tests run suites in pytester subprocesses

OUR_NETNS_PREFIX = "tb-"  # every namespace the testbed or its tests create starts with this
OUR_PROCESS_MARKERS = ("testbed.radio.medium", "testbed.cli up", "testbed up ")
RUN_ID = re.compile(r"tb-([0-9a-f]{6})-|-([0-9a-f]{6})/")


def our_namespaces() -> set[str]:
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return set()
    return {line.split()[0] for line in out.stdout.splitlines() if line.startswith(OUR_NETNS_PREFIX)}


def our_processes() -> set[tuple[int, str]]:
    found = set()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in OUR_PROCESS_MARKERS) and "pytest" not in cmdline:
            found.add((int(entry), cmdline.strip()))
    return found


def _ancestors(pid: int) -> set[int]:
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            break
        pid = int(stat[stat.rindex(b")") + 2 :].split()[1])
    return seen


def foreign_run_ids() -> set[str]:
    """Run ids owned by a live process outside this pytest session's process tree."""
    me = os.getpid()
    return {
        entry.run_id
        for entry in list_runs()
        if entry.owner_alive() and me not in _ancestors(entry.owner.pid)
    }


def registered_run_ids() -> set[str]:
    return {entry.run_id for entry in list_runs()}


def other_pytest_sessions() -> bool:
    """Another pytest runs on this machine (a developer's second session): a namespace in no
    registry may then be its, so it is reported but not removed."""
    me = os.getpid()
    mine = _ancestors(me)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"pytest" in cmdline and me not in _ancestors(int(entry)):
            return True
    return False


def _run_id(text: str) -> str | None:
    match = RUN_ID.search(text)
    return (match.group(1) or match.group(2)) if match else None


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest):
    """Fail the test if it leaves a namespace or a process of ours behind. The networks the
    plugin keeps up for `node(...).exec` until the session ends are not leaks."""
    ns_before, procs_before = our_namespaces(), our_processes()
    yield
    foreign = foreign_run_ids() | live_run_ids(request.config)
    leaked_ns = {ns for ns in our_namespaces() - ns_before if _run_id(ns) not in foreign}
    leaked_procs = {
        p
        for p in our_processes() - procs_before
        if os.path.exists(f"/proc/{p[0]}") and _run_id(p[1]) not in foreign
    }
    if not (leaked_ns or leaked_procs):
        return
    if other_pytest_sessions():  # only what a registry ties to us is surely ours
        registered = registered_run_ids()
        leaked_ns = {ns for ns in leaked_ns if _run_id(ns) in registered}
        leaked_procs = {p for p in leaked_procs if _run_id(p[1]) in registered}
        if not (leaked_ns or leaked_procs):
            return
    for pid, _ in leaked_procs:  # leave the machine clean for the next test, then fail this one
        _kill(pid)
    for ns in leaked_ns:
        pids = subprocess.run(["ip", "netns", "pids", ns], check=False, capture_output=True, text=True)
        for pid in pids.stdout.split():
            _kill(int(pid))
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    pytest.fail(f"test leaked namespaces {sorted(leaked_ns)} and processes {sorted(leaked_procs)}")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
