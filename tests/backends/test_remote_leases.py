"""Board leases kept on the lab host, for real: OpenSSH's sshd in its own network namespace
plays the lab Pi (as in test_remote_host.py, without the board: a lease needs none), and every
lease step is a command run there over SSH. Two "lab PCs" are separate SSH sessions (each its
own RemoteLeaseStore) or separate `testbed` processes.

The namespace shares this machine's filesystem, so the host's lease directory is also visible
here; this machine's own lease directory ($TESTBED_LEASE_DIR, which sshd's sessions do not
inherit) is checked to stay empty: the leases are the host's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.backends import netns as ns
from testbed.backends.leases import (
    LEASE_DIR_ENV,
    Lease,
    LeaseState,
    acquire,
    lab_status,
    lease_boards,
)
from testbed.backends.remote_leases import RemoteLeaseStore
from testbed.config.lab import load_lab
from testbed.errors import BoardBusy, LeaseLost
from tests.cli import run_cli
from tests.backends.sshd import SSHD, ssh_host

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
    pytest.mark.skipif(not (Path(SSHD).exists() and shutil.which("ssh-keygen")),
                       reason="apt-get install openssh-server (make deps does)"),
]

RACERS = 6


@dataclass
class Pi:
    netns: str
    address: str
    dir: Path
    #: processes in the namespace with no SSH session (the listening sshd)
    idle: int = 0

    def lab(self, where: Path, name: str) -> Path:
        """Host labpi keeps its leases in <dir>/host-leases; labpi2 is the same sshd with
        the default directory; gone is an address where nothing listens for SSH."""
        (where / "image.bin").write_bytes(b"\0" * 64)
        text = f"""\
name: {name}
hosts:
  labpi:
    ssh: root@{self.address}
    identity: {self.dir}/id_ed25519
    known_hosts: {self.dir}/known_hosts
    leases: {self.dir}/host-leases
  labpi2:
    ssh: root@{self.address}
    identity: {self.dir}/id_ed25519
    known_hosts: {self.dir}/known_hosts
  gone:
    ssh: root@{self.address}:2
    identity: {self.dir}/id_ed25519
    known_hosts: {self.dir}/known_hosts
boards:
  cc1: {{platform: contiki, host: labpi, port: "rfc2217://{self.address}:4001"}}
  cc2: {{platform: contiki, host: labpi2, port: "rfc2217://{self.address}:4002"}}
  cc3:
    platform: contiki
    host: gone
    port: "rfc2217://{self.address}:4003"
    image: image.bin
    flasher: [dd, "if={{image}}", "of=/dev/null"]
"""
        path = where / f"{name}.yaml"
        path.write_text(text)
        return path

    def processes(self) -> int:
        return len(subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True,
                                  text=True, check=True).stdout.split())

    def sessions(self) -> int:
        """Processes in the namespace besides the listening sshd: SSH sessions' sshds."""
        return self.processes() - self.idle


@pytest.fixture(scope="module")
def pi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pi]:
    tmp = tmp_path_factory.mktemp("leasepi")
    # known_hosts also under port 2, where nothing listens (the `gone` host of the lab file)
    with ssh_host(tmp, tag="rl", octet=214, config="MaxStartups 30\n",
                  known_hosts_ports=(2,)) as (ssh, _stack):
        host = Pi(netns=ssh.netns, address=ssh.address, dir=tmp)
        host.idle = host.processes()
        yield host


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This machine's lease directory: host boards must never be leased in it."""
    path = tmp_path / "here-leases"
    monkeypatch.setenv(LEASE_DIR_ENV, str(path))
    return path


def _race(lab_file: Path, racers: int) -> list[str]:
    """`racers` lab PCs, each its own SSH session, try for cc1 at the same instant: the run id
    of each winner, 'busy' for each loser."""
    lab = load_lab(lab_file)
    start, looked = threading.Barrier(racers), threading.Barrier(racers)
    results: list[str] = []

    def one(i: int) -> None:
        store = RemoteLeaseStore(lab, "labpi")
        try:
            store.read("warm.up.lease")  # connected before the start, so all race the step
            start.wait()
            try:
                leases = acquire(lab, ["cc1"], run_id=f"run{i:03d}", ttl_s=30,
                                 stores=lambda _lab, _host: store)
            except BoardBusy:
                results.append("busy")
                looked.wait()
                return
            results.append(f"run{i:03d}")
            looked.wait()  # every loser has looked before the winner lets go
            leases.release()
        finally:
            store.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_lab_pcs_racing_for_a_board_on_the_host_one_wins(pi: Pi, here: Path,
                                                          tmp_path: Path) -> None:
    lab_file = pi.lab(tmp_path, f"race{secrets.token_hex(2)}")
    lab = load_lab(lab_file)
    on_host = pi.dir / "host-leases" / f"{lab.name}.cc1.lease"

    # a free board: of the exclusive creates (link(2) on the host), exactly one succeeds
    results = _race(lab_file, RACERS)
    assert len(results) == RACERS and results.count("busy") == RACERS - 1, results
    assert not on_host.exists()  # the winner released it there

    # an expired lease: of the compare-and-swap takeovers, exactly one succeeds
    stale = Lease.mine(lab.name, "cc1", run_id="stale0", ttl_s=30)
    past = stale.acquired - dt.timedelta(minutes=5)
    stale = dataclasses.replace(stale, acquired=past, renewed=past, expires=past,
                                host="elsewhere")
    assert RemoteLeaseStore(lab, "labpi").create(on_host.name, stale.to_bytes())
    assert on_host.read_bytes() == stale.to_bytes()
    results = _race(lab_file, RACERS)
    assert results.count("busy") == RACERS - 1, results
    assert not on_host.exists()
    assert not here.exists() or not any(here.rglob("*.lease"))  # nothing leased here
    assert [p.name for p in (pi.dir / "host-leases").iterdir()] == []  # no temporary left


def _testbed(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout=60)


def test_status_shows_the_host_s_holder_release_removes_it_there_and_a_host_down_is_unknown(
        pi: Pi, here: Path, tmp_path: Path) -> None:
    lab_file = pi.lab(tmp_path, f"stat{secrets.token_hex(2)}")
    lab = load_lab(lab_file)
    on_host = pi.dir / "host-leases" / f"{lab.name}.cc1.lease"
    env = {**os.environ, LEASE_DIR_ENV: str(here)}
    with pytest.raises(LeaseLost), lease_boards(lab, ["cc1"], run_id="holder", ttl_s=30) as leases:
        assert Lease.from_bytes(on_host.read_bytes()) == leases.lease("cc1")
        assert pi.sessions() >= 1  # our store's SSH session stays open while we hold cc1
        shown = _testbed("lab", "status", str(lab_file), "--json", env=env)
        assert shown.returncode == 0, shown.stderr
        rows = {row["board"]: row for row in json.loads(shown.stdout)}
        assert rows["cc1"]["state"] == "held"
        assert rows["cc1"]["lease"]["run_id"] == "holder"
        assert rows["cc1"]["lease"]["pid"] == os.getpid()
        assert rows["cc1"]["file"] == f"labpi:{on_host}"
        # no `leases:`: the default rule, evaluated on the host (we log in as root there)
        assert rows["cc2"]["state"] == "free"
        assert rows["cc2"]["file"] == f"labpi2:/run/testbed/leases/{lab.name}.cc2.lease"
        assert rows["cc3"]["state"] == "unknown"
        assert "host gone" in rows["cc3"]["detail"]
        assert "Connection refused" in rows["cc3"]["detail"]
        table = _testbed("lab", "status", str(lab_file), env=env)
        assert table.returncode == 0 and "holder" in table.stdout and "unknown" in table.stdout

        # leasing a board of a host that is down: one line naming the host, nothing held
        flash = _testbed("flash", "--lab", str(lab_file), "cc3", env=env)
        assert flash.returncode == 1, flash.stdout + flash.stderr
        assert flash.stderr.startswith("testbed: board leases on host gone: read ")
        assert len(flash.stderr.strip().splitlines()) == 1, flash.stderr

        # another PC frees the board by force: removed on the host, our renewal finds it gone
        freed = _testbed("lab", "release", str(lab_file), "cc1", "--force", env=env)
        assert freed.returncode == 0, freed.stderr
        assert "(run holder, pid" in freed.stdout
        assert not on_host.exists()
        leases.renew()
        assert "cc1" in leases.lost
    # the lease released on the way out (it is the forced one's: nothing to remove) and the
    # store's SSH session closed with it
    deadline = time.monotonic() + 5
    while pi.sessions() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pi.sessions() == 0
    with lease_boards(lab, ["cc1"], run_id="second", ttl_s=30):
        assert on_host.exists()
    assert not on_host.exists()
    assert lab_status(lab)[0].state is LeaseState.FREE
    assert not here.exists() or not any(here.rglob("*.lease"))
