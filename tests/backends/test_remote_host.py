"""A lab host, for real: sshd and ser2net in their own network namespace (the lab Pi) serve a
QEMU micro:bit's console over RFC 2217; this side reaches them over a veth, as a lab PC
reaches a Pi on its desk. The testbed flashes an app module through rfc2217://, runs
`node("s1").exec(...)` through the pytest plugin, copies files there and back with fabric,
runs a flasher ON the host, and refuses an unknown or changed host key.

No mocks: OpenSSH's sshd, ser2net 4, QEMU's micro:bit with the real MicroPython firmware. The
board sits on a pty here (the namespace shares this machine's filesystem), so `device:` is
that pty and the Contiki flasher on the host is `dd` onto a file standing in for the board.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.backends import netns as ns
from testbed.backends.flash import FlashError, RawReplFlasher, RemoteCommandFlasher, flasher_for
from testbed.backends.processes import kill_process_group
from testbed.backends.qemu import QemuMicrobit
from testbed.backends.remote import LabHost
from testbed.config.lab import Host, Lab, load_lab
from testbed.errors import BadInput, BoardError, RemoteError
from testbed.pytest_plugin.nodes import LabRunner, Node

from .sshd import SSHD, keygen, ssh_host, start, wait_listening

REPO = Path(__file__).resolve().parents[2]
APP_MODULE = REPO / "nodes" / "xmpp-sensor" / "outbox.py"
RFC2217_PORT = 4000

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
    pytest.mark.skipif(not (Path(SSHD).exists() and shutil.which("ser2net")
                            and shutil.which("ssh-keygen")),
                       reason="apt-get install openssh-server ser2net (make deps does)"),
    pytest.mark.skipif(QemuMicrobit().missing() is not None,
                       reason=str(QemuMicrobit().missing())),
]


@dataclass
class LabPi:
    """The namespace that plays the lab host, and what the lab file needs to reach it."""

    netns: str
    address: str
    dir: Path
    identity: Path
    known_hosts: Path
    pty: str  # the micro:bit's console, the board's `device:` on the host

    def lab(self, where: Path, *, known_hosts: Path | None = None) -> Path:
        """A lab file with this host and its board mb1 (node s1); returns its path."""
        text = f"""\
name: remote
hosts:
  labpi:
    ssh: root@{self.address}
    identity: {self.identity}
    known_hosts: {known_hosts or self.known_hosts}
boards:
  mb1:
    platform: micropython
    host: labpi
    # the console is a pty there: it cannot answer RFC 2217's modem control (README)
    port: "rfc2217://{self.address}:{RFC2217_PORT}?ign_set_control"
    device: {self.pty}
    node: s1
  cc1:
    platform: contiki
    host: labpi
    port: "rfc2217://{self.address}:4001"
    device: {self.dir}/cc1-flash.bin
    image: image.bin
    flasher: [dd, "if={{image}}", "of={{port}}", bs=512, conv=fsync]
  cc2:
    platform: contiki
    host: labpi
    port: "rfc2217://{self.address}:4002"
    flasher: ["{{python}}", -c, "import sys; print('flashed by', sys.executable)"]
"""
        path = where / "lab.yaml"
        path.write_text(text)
        return path


@pytest.fixture(scope="module")
def labpi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabPi]:
    tmp = tmp_path_factory.mktemp("labpi")
    with ssh_host(tmp, tag="rh", octet=213, config="Subsystem sftp internal-sftp\n") as (
            host, stack):
        pty = stack.enter_context(QemuMicrobit().open())
        yield LabPi(netns=host.netns, address=host.address, dir=tmp, identity=tmp / "id_ed25519",
                    known_hosts=tmp / "known_hosts", pty=pty)


@pytest.fixture
def ser2net(labpi: LabPi, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """ser2net on the lab host: the micro:bit's console as rfc2217://<host>:4000."""
    config = tmp_path / "ser2net.yaml"
    config.write_text(f"""\
connection: &mb1
  accepter: telnet(rfc2217),tcp,{RFC2217_PORT}
  connector: serialdev,{labpi.pty},115200n81,local
  options:
    kickolduser: true
""")
    process = start(["ip", "netns", "exec", labpi.netns, "ser2net", "-n", "-u", "-c",
                      str(config)], tmp_path / "ser2net.log")
    try:
        wait_listening(labpi.address, RFC2217_PORT, process, tmp_path / "ser2net.log")
        yield process
    finally:
        kill_process_group(process, grace_s=1.0)


def test_an_app_module_flashed_over_rfc2217_runs_under_node_exec(
        labpi: LabPi, ser2net: subprocess.Popen[bytes], tmp_path: Path) -> None:
    lab_file = labpi.lab(tmp_path)
    board = load_lab(lab_file).boards["mb1"]
    flashed = flasher_for(board, load_lab(lab_file)).flash([APP_MODULE], port=str(board.port))
    assert isinstance(flasher_for(board, load_lab(lab_file)), RawReplFlasher)
    assert flashed.verified and flashed.files == ("outbox.py",)
    assert flashed.bytes == len(APP_MODULE.read_bytes())
    # the plugin's own node fixture, in a pytest session of its own, with --lab
    (tmp_path / "test_on_the_pi.py").write_text(
        "def test_the_outbox_on_the_lab_pi(node):\n"
        "    code = 'import outbox\\nq = outbox.Outbox(2)\\nfor r in (7, 8, 9):\\n"
        "    print(q.put(r))\\nprint(len(q), q.peek())'\n"
        "    assert node('s1').exec(code) == 'None\\nNone\\n7\\n2 8\\n'\n")
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--lab", str(lab_file),
         "test_on_the_pi.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"})
    assert inner.returncode == 0, inner.stdout[-2000:] + inner.stderr[-1000:]
    assert "1 passed" in inner.stdout


def test_files_go_there_and_logs_come_back_each_argument_whole(labpi: LabPi,
                                                                 tmp_path: Path) -> None:
    lab = load_lab(labpi.lab(tmp_path))
    sent = tmp_path / "sent.txt"
    sent.write_text("readings 1..10\n")
    canary = tmp_path / "injected"
    tricky = f"a b  'c' \"d\"; touch {canary}; $(touch {canary}) `touch {canary}` \\ *"
    log = tmp_path / "logs" / "labpi.log"
    with LabHost.for_lab(lab, "labpi", log=log) as pi:
        there = pi.put(sent)
        assert there.startswith(pi.workdir + "/")
        done = pi.run(["sh", "-c", 'cat "$1"; printf "%s|" "$@" > "$1.args"', "sh", there,
                       tricky, ""])
        assert done.status == 0 and done.stdout == sent.read_text()
        back = pi.get(there + ".args", tmp_path / "args.txt")
        workdir = pi.workdir
        with pytest.raises(RemoteError, match=r"host labpi: ls .*: exit status 2: .*No such"):
            pi.run(["ls", "/no/such/dir"])
        with pytest.raises(RemoteError, match=r"host labpi: no such file /no/such/log"):
            pi.get("/no/such/log", tmp_path / "never.log")
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"host labpi: sleep 7.25: did not finish within "
                                              r"0.5 s \(ended there\)"):
            pi.run(["sleep", "7.25"], timeout_s=0.5)
        assert time.monotonic() - started < 3
        assert subprocess.run(["pgrep", "-f", "^sleep 7.25$"]).returncode == 1  # none left
    # three arguments arrived, the tricky one intact and the empty one kept, nothing ran
    assert back.read_text() == f"{there}|{tricky}||"
    assert not canary.exists()
    assert not Path(workdir).exists()  # removed on close (the host's /tmp is ours here)
    assert "$ sh -c" in log.read_text() and sent.read_text() in log.read_text()


def test_a_contiki_flasher_runs_on_the_host_with_the_copied_image(labpi: LabPi,
                                                                    tmp_path: Path) -> None:
    image = tmp_path / "image.bin"
    image.write_bytes(secrets.token_bytes(3000))
    lab = load_lab(labpi.lab(tmp_path))
    flasher = flasher_for(lab.boards["cc1"], lab, log_dir=tmp_path / "flash", timeout_s=20)
    assert isinstance(flasher, RemoteCommandFlasher)
    result = flasher.flash(lab.image_path(lab.boards["cc1"]), port="rfc2217://unused")
    assert (labpi.dir / "cc1-flash.bin").read_bytes() == image.read_bytes()
    assert result.bytes == 3000 and result.log is not None
    assert "records out" in result.log.read_text()  # dd's report, collected back here
    failing = lab.model_copy(update={"boards": {"cc1": lab.boards["cc1"].model_copy(
        update={"device": "/no/such/dir/flash.bin"})}})
    with pytest.raises(FlashError, match=r"board cc1 on host labpi: dd exited with status 1; "
                                         r"last lines: .*\$ dd .*No such file or directory \| "
                                         r"\[exit status 1\]; full log: "):
        flasher_for(failing.boards["cc1"], failing, log_dir=tmp_path / "flash",
                    timeout_s=20).flash(lab.image_path(lab.boards["cc1"]), port="x")
    # {python} is the host's python3, not the interpreter running the testbed here
    by_python = flasher_for(lab.boards["cc2"], lab, log_dir=tmp_path / "flash").flash(None,
                                                                                   port="x")
    assert by_python.log is not None
    ran = by_python.log.read_text()
    assert ran.startswith("$ python3 -c ") and "\nflashed by /" in ran
    assert f"flashed by {sys.executable}\n" not in ran
    no_device = lab.model_copy(update={"boards": {"cc1": lab.boards["cc1"].model_copy(
        update={"device": None})}})
    with pytest.raises(BadInput, match=r"board cc1: the flasher uses \{port\} and runs on host "
                                       r"labpi: give the board's serial device there"):
        flasher_for(no_device.boards["cc1"], no_device).flash(image, port="x")


def test_an_unknown_host_key_is_refused(labpi: LabPi, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    lab = load_lab(labpi.lab(tmp_path, known_hosts=empty))
    with pytest.raises(RemoteError, match=rf"host labpi \({labpi.address}:22\): host key not "
                                          rf"in {empty}: it offered ssh-ed25519 SHA256:\S+; "
                                          "connection refused. Compare with the host's own key"):
        with LabHost.for_lab(lab, "labpi", log=tmp_path / "labpi.log"):
            pass
    assert empty.read_text() == ""  # refused, never added


def test_a_changed_host_key_is_refused(labpi: LabPi, tmp_path: Path) -> None:
    other = keygen(tmp_path / "another_host_key")
    stale = tmp_path / "stale_known_hosts"
    stale.write_text(f"{labpi.address} {other}\n")
    lab = load_lab(labpi.lab(tmp_path, known_hosts=stale))
    with pytest.raises(RemoteError, match=rf"host labpi .*: host key CHANGED: {stale} holds "
                                          r"SHA256:\S+ for it: it offered ssh-ed25519 SHA256:\S+; "
                                          "connection refused"):
        with LabHost.for_lab(lab, "labpi", log=tmp_path / "labpi.log"):
            pass
    assert stale.read_text() == f"{labpi.address} {other}\n"


def test_a_key_the_host_does_not_know_and_a_closed_port_are_named(labpi: LabPi,
                                                                     tmp_path: Path) -> None:
    keygen(tmp_path / "stranger")
    host = Host(name="labpi", ssh=f"root@{labpi.address}")
    with pytest.raises(RemoteError, match=rf"host labpi \(root@{labpi.address}\): key "
                                          rf"authentication with key {tmp_path}/stranger failed"):
        with LabHost(host, log=tmp_path / "labpi.log", identity=tmp_path / "stranger",
                     known_hosts=labpi.known_hosts):
            pass
    closed = Host(name="labpi", ssh=f"root@{labpi.address}:2")
    with pytest.raises(RemoteError, match=r"host labpi \(root@.*:2\): cannot connect "
                                          r"\(timeout 3 s\): Connection refused"):
        with LabHost(closed, log=tmp_path / "labpi.log", identity=labpi.identity,
                     known_hosts=labpi.known_hosts, connect_timeout_s=3):
            pass


def test_killing_ser2net_fails_the_next_board_operation_naming_the_board(
        labpi: LabPi, ser2net: subprocess.Popen[bytes], tmp_path: Path) -> None:
    lab: Lab = load_lab(labpi.lab(tmp_path))
    with contextlib.ExitStack() as stack:
        s1 = Node("s1", experiment=lambda: None, variant=None,  # type: ignore[arg-type]
                  runner=LabRunner(lab, stack))
        assert s1.exec("print(6*7)") == "42\n"
        os.killpg(ser2net.pid, signal.SIGKILL)
        ser2net.wait(timeout=5)
        with pytest.raises(BoardError, match=rf"board mb1 \(node s1 on host labpi\): "
                                             rf"rfc2217://{labpi.address}:4000\S*: "):
            s1.exec("print(6*7)")
        # and reopening it says the same board, the port refused
        with pytest.raises(BoardError, match=r"board mb1 \(node s1 on host labpi.*cannot open"):
            s1.exec("print(6*7)")
