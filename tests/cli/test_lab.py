"""`testbed lab status` / `lab release` and the leases `testbed flash --lab` takes, run as a
user runs them. The lease directory is a tmp dir (TESTBED_LEASE_DIR); a lease "another run"
holds is written by this test process, whose pid is alive, exactly as a live run's is."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from testbed.backends.leases import LEASE_DIR_ENV, Lease, LocalLeaseStore
from tests.cli import run_cli


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    """A lab whose Contiki board's "flasher" prints the board's lease file: what it shows is
    the lease as it was while the flash ran."""
    lease = tmp_path / "leases" / "bench.zoul1.lease"
    (tmp_path / "image.bin").write_bytes(b"\x00" * 16)
    lab = tmp_path / "bench.yaml"
    lab.write_text(f"""\
name: bench
boards:
  zoul1: {{platform: contiki, port: /dev/null, image: image.bin,
          flasher: [cat, "{lease}", "{{image}}"]}}
  mb1: {{platform: micropython, emulator: qemu-microbit, node: s1}}
""")
    return lab


def cli(lab: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, LEASE_DIR_ENV: str(lab.parent / "leases")}
    done = run_cli(*args, env=env, timeout=60)
    return done.returncode, done.stdout, done.stderr


def hold(lab: Path, board: str) -> Lease:
    """Another run's lease on `board` (this process plays that run: its pid is alive)."""
    lease = Lease.mine("bench", board, run_id="cafe01", ttl_s=60)
    assert LocalLeaseStore(lab.parent / "leases").create(f"bench.{board}.lease", lease.to_bytes())
    return lease


def test_status_shows_who_holds_what(bench: Path) -> None:
    lease = hold(bench, "mb1")
    status, out, err = cli(bench, "lab", "status", str(bench), "--json")
    assert (status, err) == (0, "")
    rows = {row["board"]: row for row in json.loads(out)}
    assert rows["zoul1"]["state"] == "free" and rows["zoul1"]["lease"] is None
    assert rows["mb1"]["state"] == "held" and rows["mb1"]["port"] == "qemu-microbit"
    assert rows["mb1"]["lease"]["owner"] == lease.owner
    assert rows["mb1"]["lease"]["pid"] == os.getpid()
    assert rows["mb1"]["file"] == str(bench.parent / "leases" / "bench.mb1.lease")

    status, out, _ = cli(bench, "lab", "status", str(bench))
    assert status == 0
    mb1 = next(line for line in out.splitlines() if " mb1 " in line)
    for cell in ("micropython", "s1", "qemu-microbit", "held", lease.owner, "cafe01",
                 f"{lease.expires:%Y-%m-%d %H:%M}"):
        assert cell in mb1, (cell, mb1)
    assert "free" in next(line for line in out.splitlines() if " zoul1 " in line)


def test_release_needs_force_and_names_whose_lease_it_removed(bench: Path) -> None:
    lease = hold(bench, "mb1")
    status, _, err = cli(bench, "lab", "release", str(bench), "mb1")
    assert status == 2 and "add --force" in err
    assert (bench.parent / "leases" / "bench.mb1.lease").exists()
    status, out, _ = cli(bench, "lab", "release", str(bench), "mb1", "--force")
    assert status == 0
    assert f"removed the lease of {lease.owner} (run cafe01, pid {os.getpid()})" in out
    assert not (bench.parent / "leases" / "bench.mb1.lease").exists()
    status, _, err = cli(bench, "lab", "release", str(bench), "mb2", "--force")
    assert status == 2 and "no board 'mb2'" in err


def test_flash_holds_the_board_while_it_flashes_and_lets_go_after(bench: Path,
                                                                    tmp_path: Path) -> None:
    status, out, err = cli(bench, "flash", "--lab", str(bench), "zoul1", "--logs",
                           str(tmp_path / "logs"), "--wait", "0", "--json")
    assert status == 0, err
    log = (tmp_path / "logs" / "zoul1.log").read_text()
    during = json.loads(log[log.index("{"):log.index("}") + 1])
    assert during["board"] == "zoul1" and "flash" in during["command"]
    assert during["pid"] != os.getpid()  # the CLI's own lease
    assert os.listdir(tmp_path / "leases") == []


def test_flash_of_a_board_another_run_holds_waits_then_exits_75_naming_it(
        bench: Path, tmp_path: Path) -> None:
    lease = hold(bench, "zoul1")
    status, _, err = cli(bench, "flash", "--lab", str(bench), "zoul1", "--logs",
                         str(tmp_path / "logs"), "--wait", "1")
    assert status == 75
    assert "waiting up to 1 s" in err
    assert (f"board zoul1 of lab bench is held by {lease.owner} (run cafe01, pid "
            f"{os.getpid()}) until ") in err
    assert f"testbed lab release {bench} zoul1 --force" in err
    assert not (tmp_path / "logs").exists()  # the flasher never ran


@pytest.mark.parametrize("command", ["status", "release"])
def test_help_of_lab_commands_has_an_example(command: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from testbed.cli import main

    with pytest.raises(SystemExit) as done:  # in-process, as tests/cli/test_help.py does
        main(["lab", command, "--help"])
    assert done.value.code == 0
    assert f"Example: testbed lab {command} labs/desk.yaml" in " ".join(
        capsys.readouterr().out.split())
