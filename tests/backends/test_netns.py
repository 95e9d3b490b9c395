"""Namespace helpers against the real kernel: batches, setns on a thread, pids inside."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
from pathlib import Path

import pytest

from testbed.backends import netns as ns
from testbed.errors import NetworkError, PrivilegeError

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]


@pytest.fixture
def two():
    names = [f"tb-unit-{secrets.token_hex(3)}-{i}" for i in (1, 2)]
    ns.add_netns(names)
    yield names
    ns.kill_netns_processes(names)
    ns.delete_netns(names)


def own_netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def test_batch_add_and_delete(two):
    assert all(ns.netns_exists(n) for n in two)
    assert ns.delete_netns([*two, "tb-unit-never-made"]) == two
    assert not any(ns.netns_exists(n) for n in two)


def test_ip_failure_names_the_command_and_namespace(two):
    with pytest.raises(NetworkError, match=rf"in {two[0]} .*'link set dev nosuch0 up'.*failed"):
        ns.ip_batch(["link set dev nosuch0 up"], netns=two[0])


def test_run_in_netns_moves_only_a_helper_thread(two):
    here = own_netns_inode()
    inside = ns.run_in_netns(two[0], own_netns_inode)
    assert inside == os.stat(ns.NETNS_DIR / two[0]).st_ino
    assert inside != here
    assert own_netns_inode() == here  # the caller's thread did not move
    with pytest.raises(ZeroDivisionError):
        ns.run_in_netns(two[0], lambda: 1 / 0)  # errors reach the caller


def test_sysctls_land_in_the_namespace_only(two):
    key = "net/ipv6/conf/default/accept_dad"
    host = Path("/proc/sys", key).read_text()
    ns.write_sysctls(two[0], {key: "0"})
    inside = subprocess.run(["ip", "netns", "exec", two[0], "cat", f"/proc/sys/{key}"],
                            capture_output=True, text=True, check=True).stdout
    other = subprocess.run(["ip", "netns", "exec", two[1], "cat", f"/proc/sys/{key}"],
                           capture_output=True, text=True, check=True).stdout
    assert inside.strip() == "0"
    assert other.strip() == "1"
    assert Path("/proc/sys", key).read_text() == host


def test_pids_in_netns_and_kill(two):
    sleeper = subprocess.Popen(["ip", "netns", "exec", two[1], "sleep", "60"])
    try:
        found = {}
        for _ in range(100):  # `ip netns exec` enters the namespace, then execs sleep
            found = ns.pids_in_netns(two)
            if found[two[1]]:
                break
            threading.Event().wait(0.02)
        assert found[two[0]] == []
        assert found[two[1]] == [sleeper.pid]
        assert ns.kill_netns_processes(two, grace_s=0.5) == {two[1]: [sleeper.pid]}
        assert sleeper.wait(5) == -15
    finally:
        sleeper.kill()
        sleeper.wait()


def test_privilege_error_says_how(monkeypatch):
    monkeypatch.setattr(ns, "has_net_admin", lambda: False)
    with pytest.raises(PrivilegeError, match=r"CAP_NET_ADMIN.*unshare --user --map-root-user"):
        ns.require_net_admin()


def test_ip_batch_refuses_a_line_break_inside_a_line() -> None:
    from testbed.backends.netns import ip_batch
    from testbed.errors import NetworkError

    with pytest.raises(NetworkError, match="line break"):
        ip_batch(["netns add tb-abcdef-x\nnetns del important"])
