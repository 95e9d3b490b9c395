"""Board leases: two runs never hold one board. Holders are real processes (a tiny python that
leases boards and sleeps), killed and interrupted for real; the lease directory is a tmp dir
(TESTBED_LEASE_DIR), the same code path as /run/testbed/leases."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.backends.leases import (
    LEASE_DIR_ENV,
    Lease,
    LeaseState,
    LocalLeaseStore,
    acquire,
    lab_status,
    lease_boards,
    lease_name,
)
from testbed.config.lab import Lab, parse_lab
from testbed.errors import BoardBusy, BoardError, LeaseLost

LAB = """\
name: bench
boards:
  b1: {platform: micropython, port: /dev/ttyACM0, node: s1}
  b2: {platform: micropython, port: /dev/ttyACM1, node: s2}
  b3: {platform: micropython, port: /dev/ttyACM2, node: s3}
"""

#: argv[1] lab file, [2] boards (comma-separated), [3] timeout s, [4] ttl s, [5] hold s,
#: [6] run id, [7] start at (time.time(); 0: at once). Prints HELD <time> / BUSY <message>.
HOLDER = r"""
import sys, time
from testbed.backends.leases import lease_boards
from testbed.config.lab import load_lab
from testbed.errors import BoardBusy
lab = load_lab(sys.argv[1])
timeout, ttl, hold = (float(a) for a in sys.argv[3:6])
time.sleep(max(0.0, float(sys.argv[7]) - time.time()))
try:
    with lease_boards(lab, sys.argv[2].split(","), run_id=sys.argv[6], timeout_s=timeout,
                      ttl_s=ttl):
        print("HELD", time.time(), flush=True)
        time.sleep(hold)
except BoardBusy as exc:
    print("BUSY", exc, flush=True)
    sys.exit(75)
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
    sys.exit(130)
print("RELEASED", time.time(), flush=True)
"""


@pytest.fixture
def lease_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "leases"
    monkeypatch.setenv(LEASE_DIR_ENV, str(path))
    return path


@pytest.fixture
def lab_file(tmp_path: Path) -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(LAB)
    return path


@pytest.fixture
def lab() -> Lab:
    return parse_lab(LAB, "bench.yaml")


class Holder:
    """One holder process; stopped (SIGKILL) and reaped at the end of the test if still up."""

    def __init__(self, lab_file: Path, boards: str, *, timeout: float = 0.0, ttl: float = 30.0,
                 hold: float = 30.0, run_id: str = "aaaaaa", start_at: float = 0.0) -> None:
        argv = [sys.executable, "-c", HOLDER, str(lab_file), boards, str(timeout), str(ttl),
                str(hold), run_id, str(start_at)]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)

    def first_line(self, timeout: float = 15.0) -> str:
        """The first line it prints (HELD/BUSY ...), waiting at most `timeout`."""
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()),
                                  daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        assert line and line[0], f"holder printed nothing; stderr: {self.stderr()}"
        return line[0].strip()

    def finish(self, timeout: float = 15.0) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(running)"
        return self.process.stderr.read()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.stop()


def start(holders: list[Holder], *args: object, **kw: object) -> Holder:
    holder = Holder(*args, **kw)  # type: ignore[arg-type]
    holders.append(holder)
    return holder


def held_at(line: str) -> float:
    word, when = line.split()
    assert word == "HELD", line
    return float(when)


def read_lease(lease_dir: Path, board: str) -> dict:
    return json.loads((lease_dir / lease_name("bench", board)).read_text())


# --- two runs ---------------------------------------------------------------------------------


def test_second_run_waits_and_gets_the_board_when_the_first_releases(
        lab_file: Path, lease_dir: Path, holders: list[Holder]) -> None:
    first = start(holders, lab_file, "b1", hold=1.5, run_id="111111")
    first_held = held_at(first.first_line())
    second = start(holders, lab_file, "b1", timeout=20, run_id="222222")
    second_held = held_at(second.first_line())
    assert second_held >= first_held + 1.5  # only once the first let go
    assert first.finish()[0] == 0
    assert second.process.poll() is None  # still holding
    assert read_lease(lease_dir, "b1")["run_id"] == "222222"


def test_second_run_fails_after_its_timeout_naming_the_holder(
        lab_file: Path, lease_dir: Path, holders: list[Holder]) -> None:
    first = start(holders, lab_file, "b1", run_id="111111")
    first.first_line()
    began = time.monotonic()
    status, out = start(holders, lab_file, "b1", timeout=1.0, run_id="222222").finish()
    assert time.monotonic() - began >= 1.0
    assert status == 75
    owner = read_lease(lease_dir, "b1")["owner"]
    assert f"board b1 of lab bench is held by {owner} (run 111111, pid " \
           f"{first.process.pid}) until " in out
    assert str(lease_dir / "bench.b1.lease") in out and "waited 1." in out


def test_a_killed_holder_s_lease_is_taken_at_once_on_its_own_host(
        lab_file: Path, lease_dir: Path, holders: list[Holder]) -> None:
    first = start(holders, lab_file, "b1", ttl=60, run_id="111111")
    first.first_line()
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    assert (lease_dir / "bench.b1.lease").exists()  # nobody removed it
    second = start(holders, lab_file, "b1", timeout=0, run_id="222222")
    assert second.first_line().startswith("HELD")


def test_a_killed_holder_on_another_host_holds_until_its_lease_expires(
        lab_file: Path, lease_dir: Path, holders: list[Holder]) -> None:
    """The lease of a holder on another host (the same file with its hostname changed, as a
    shared lease directory would hold it) cannot be judged by its pid: only time frees it."""
    first = start(holders, lab_file, "b1", ttl=60, run_id="111111")
    first.first_line()
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    path = lease_dir / "bench.b1.lease"
    lease = json.loads(path.read_text())
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    lease.update(host="elsewhere", owner="ci@elsewhere", expires=expires.isoformat())
    path.write_text(json.dumps(lease))

    status, out = start(holders, lab_file, "b1", timeout=0, run_id="222222").finish()
    assert status == 75 and "held by ci@elsewhere (run 111111" in out
    second = start(holders, lab_file, "b1", timeout=10, run_id="333333")
    assert held_at(second.first_line()) >= expires.timestamp()


class _AnswerLost(LocalLeaseStore):
    """A real store whose first renewal is done and then reported failed: what a lab host's
    store sees when the SSH session drops after the host wrote the file (a fault no real
    session produces on demand, hence this subclass)."""

    failed = False

    def replace(self, name: str, data: bytes, *, expected: bytes) -> bool:
        done = super().replace(name, data, expected=expected)
        if not self.failed:
            object.__setattr__(self, "failed", True)
            raise BoardError(f"host labpi: replace {name}: the SSH session failed")
        return done


def test_a_renewal_whose_answer_was_lost_is_not_taken_for_a_lost_lease(
        lab: Lab, lease_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _AnswerLost(lease_dir)
    leases = acquire(lab, ["b1"], run_id="111111", ttl_s=30, stores=lambda _l, _h: store)
    leases.renew()  # written there, reported failed
    assert "renewal failed" in capsys.readouterr().err
    leases.renew()  # the file holds the failed step's bytes: still ours
    assert not leases.lost
    on_file = Lease.from_bytes(store.read("bench.b1.lease") or b"")
    assert on_file == leases.lease("b1")
    leases.release()
    assert store.read("bench.b1.lease") is None


def test_renewal_keeps_a_long_run_s_lease_past_its_ttl(lab: Lab, lease_dir: Path) -> None:
    with lease_boards(lab, ["b1"], run_id="111111", ttl_s=0.6) as leases:
        first = leases.lease("b1")
        time.sleep(2.0)  # more than three ttls
        status = lab_status(lab)[0]
        assert status.state is LeaseState.HELD
        assert status.lease is not None and status.lease.expires > first.expires
        assert status.lease.acquired == first.acquired and status.lease.renewed > first.renewed
        with pytest.raises(BoardBusy, match=r"held by .*\(run 111111"):
            acquire(lab, ["b1"], run_id="222222")
    assert lab_status(lab)[0].state is LeaseState.FREE


def test_sigint_releases(lab_file: Path, lease_dir: Path, holders: list[Holder]) -> None:
    first = start(holders, lab_file, "b1,b2", run_id="111111")
    first.first_line()
    assert sorted(os.listdir(lease_dir)) == ["bench.b1.lease", "bench.b2.lease"]
    first.process.send_signal(signal.SIGINT)
    status, out = first.finish()
    assert (status, out.strip()) == (130, "INTERRUPTED")
    assert os.listdir(lease_dir) == []


def test_all_or_nothing(lab: Lab, lease_dir: Path) -> None:
    with lease_boards(lab, ["b2"], run_id="111111"):
        with pytest.raises(BoardBusy, match="board b2 of lab bench is held by .*run 111111"):
            acquire(lab, ["b3", "b1", "b2"], run_id="222222")
        assert sorted(os.listdir(lease_dir)) == ["bench.b2.lease"]  # b1 was taken, then let go
        assert [s.state for s in lab_status(lab)] == [
            LeaseState.FREE, LeaseState.HELD, LeaseState.FREE]


def test_of_eight_takers_of_one_expired_lease_exactly_one_wins(
        lab_file: Path, lease_dir: Path, holders: list[Holder], lab: Lab) -> None:
    gone = Lease.mine("bench", "b1", run_id="000000", ttl_s=-1.0)  # expired already
    LocalLeaseStore(lease_dir).create("bench.b1.lease", gone.to_bytes())
    at = time.time() + 4.0  # every taker has imported everything by then
    racers = [start(holders, lab_file, "b1", hold=3.0, run_id=f"{i:06d}", start_at=at)
              for i in range(1, 9)]
    lines = [r.first_line() for r in racers]
    winners = [r for r, line in zip(racers, lines) if line.startswith("HELD")]
    assert len(winners) == 1, lines
    assert all(line.startswith("BUSY board b1") for line in lines if not line.startswith("HELD"))
    assert read_lease(lease_dir, "b1")["pid"] == winners[0].process.pid


def test_a_lease_taken_from_a_run_is_lost_not_released(lab: Lab, lease_dir: Path) -> None:
    store = LocalLeaseStore(lease_dir)
    with pytest.raises(LeaseLost, match="board b1: lease .*bench.b1.lease was taken"):
        with lease_boards(lab, ["b1"], run_id="111111", ttl_s=0.6) as leases:
            mine = store.read("bench.b1.lease")
            assert mine is not None
            other = Lease.mine("bench", "b1", run_id="222222", ttl_s=30)
            assert store.replace("bench.b1.lease", other.to_bytes(), expected=mine)
            time.sleep(0.5)  # a renewal comes and finds the file is not ours
            assert leases.lost
    assert Lease.from_bytes(store.read("bench.b1.lease") or b"").run_id == "222222"


def test_a_board_on_a_lab_host_that_cannot_be_reached_is_unknown_and_not_leased(
        lease_dir: Path, tmp_path: Path) -> None:
    """Its lease lives on the host (tests/backends/test_remote_leases.py has a real one); with
    nothing listening there, status says unknown and leasing fails naming the host, the board
    taken before it (b1) given back."""
    (tmp_path / "known_hosts").write_text("")
    lab = parse_lab(LAB + f"""\
  mb3: {{platform: micropython, host: labpi, port: "rfc2217://labpi:4000", device: /dev/ttyACM0}}
hosts:
  labpi: {{ssh: tester@127.0.0.1:1, known_hosts: {tmp_path / "known_hosts"}}}
""", "bench.yaml")
    mb3 = lab_status(lab)[-1]
    assert mb3.state is LeaseState.UNKNOWN and "host labpi" in mb3.detail
    assert "Connection refused" in mb3.detail
    with pytest.raises(BoardError, match=r"^board leases on host labpi: read bench\.mb3\.lease: "
                       r"host labpi \(tester@127\.0\.0\.1:1\): cannot connect") as caught:
        lease_boards(lab, ["mb3", "b1"], run_id="111111").__enter__()
    assert "\n" not in str(caught.value)
    assert not (lease_dir / "bench.b1.lease").exists()


# --- the store and the record -------------------------------------------------------------


def test_store_create_is_exclusive_and_replace_compares(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path / "d")
    assert store.read("x.b.lease") is None
    assert store.create("x.b.lease", b"one")
    assert not store.create("x.b.lease", b"two")
    assert not store.replace("x.b.lease", b"three", expected=b"two")
    assert store.replace("x.b.lease", b"three", expected=b"one")
    assert not store.remove("x.b.lease", expected=b"one")
    assert store.remove("x.b.lease", expected=b"three")
    assert os.listdir(tmp_path / "d") == []  # no temporary left either
    with pytest.raises(ValueError):
        store.read("../etc/passwd")


def test_lease_round_trips_and_names_its_holder() -> None:
    lease = Lease.mine("bench", "b1", run_id="abcdef", ttl_s=60)
    assert Lease.from_bytes(lease.to_bytes()) == lease
    assert lease.host == socket.gethostname() and lease.command == tuple(sys.argv)
    assert lease.holder() == f"{lease.owner} (run abcdef, pid {os.getpid()})"
    assert not lease.expired() and not lease.owner_dead_here()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
    st.builds(lambda key: json.dumps({k: v for k, v in json.loads(
        Lease.mine("bench", "b1", run_id="x", ttl_s=5).to_bytes()).items() if k != key}
    ).encode(), st.sampled_from(["owner", "pid", "expires", "lab"])),
))
def test_a_foreign_or_corrupt_lease_file_is_named_and_counts_as_held(
        data: bytes, lab: Lab, lease_dir: Path) -> None:
    path = lease_dir / "bench.b1.lease"
    lease_dir.mkdir(exist_ok=True)
    path.write_bytes(data)
    status = lab_status(lab)[0]
    assert status.state is LeaseState.UNREADABLE
    assert status.detail.startswith(f"unreadable lease {path}: ")
    with pytest.raises(BoardBusy, match="unreadable lease .*bench.b1.lease.*--force"):
        acquire(lab, ["b1"], run_id="222222")
    assert path.read_bytes() == data  # never taken, never touched
