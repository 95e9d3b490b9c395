"""A lab host for the tests: OpenSSH's sshd in its own network namespace, reached over a veth
(tests/backends/test_remote_host.py and test_remote_leases.py). Real parts only: a generated
host key and client key, key authentication, the namespace gone with everything in it."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testbed.backends import netns as ns
from testbed.backends.processes import dies_with_parent, kill_process_group

SSHD = "/usr/sbin/sshd"


def keygen(path: Path) -> str:
    """A new ed25519 key pair at `path`; its public line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
                   check=True)
    return path.with_suffix(".pub").read_text().strip()


def wait_listening(address: str, port: int, process: subprocess.Popen[bytes], log: Path,
                   timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {log.read_text()[-500:]}")
        with contextlib.suppress(OSError), socket.create_connection((address, port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on {address}:{port}: {log.read_text()[-500:]}")


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(dies_with_parent(argv), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


@dataclass(frozen=True)
class SshHost:
    """What a test needs of the host: its namespace, address, and the files in `dir`
    (id_ed25519: the client's key; known_hosts: the host's key under its address)."""

    netns: str
    address: str
    dir: Path
    host_key: str


@contextlib.contextmanager
def ssh_host(tmp: Path, *, tag: str, octet: int, config: str = "",
             known_hosts_ports: tuple[int, ...] = ()) -> Iterator[tuple[SshHost, contextlib.ExitStack]]:
    """sshd in namespace tb-<tag>-<hex> at 10.<octet>.x.2 (`config`: more sshd_config lines);
    known_hosts holds the host key for port 22 and for `known_hosts_ports`. Yields the host and
    an ExitStack for the caller's own children there (closed before the namespace goes)."""
    suffix = secrets.token_hex(3)
    name, outside, inside = f"tb-{tag}-{suffix}", f"tb-{tag}{suffix}h", f"tb-{tag}{suffix}n"
    net = f"10.{octet}.{secrets.randbelow(256)}"
    host_key = keygen(tmp / "ssh_host_ed25519_key")
    (tmp / "authorized_keys").write_text(keygen(tmp / "id_ed25519") + "\n")
    (tmp / "known_hosts").write_text(f"{net}.2 {host_key}\n" + "".join(
        f"[{net}.2]:{port} {host_key}\n" for port in known_hosts_ports))
    (tmp / "sshd_config").write_text(f"""\
ListenAddress {net}.2
HostKey {tmp}/ssh_host_ed25519_key
PidFile none
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile {tmp}/authorized_keys
StrictModes no
{config}""")
    made_run_sshd = not Path("/run/sshd").exists()  # sshd's privilege separation directory
    with contextlib.ExitStack() as stack:
        ns.add_netns([name])
        stack.callback(ns.delete_netns, [name])
        stack.callback(ns.kill_netns_processes, [name])  # sshd's per-session children too
        ns.ip_batch([f"link add {outside} type veth peer name {inside}",
                     f"link set {inside} netns {name}",
                     f"addr add {net}.1/30 dev {outside}", f"link set {outside} up"])
        stack.callback(lambda: subprocess.run(["ip", "link", "del", outside],
                                              capture_output=True, check=False))
        ns.ip_batch([f"addr add {net}.2/30 dev {inside}", f"link set {inside} up",
                     "link set lo up"], netns=name)
        if made_run_sshd:
            Path("/run/sshd").mkdir(mode=0o755)
            stack.callback(lambda: shutil.rmtree("/run/sshd", ignore_errors=True))
        sshd = start(["ip", "netns", "exec", name, SSHD, "-D", "-e", "-f",
                      str(tmp / "sshd_config")], tmp / "sshd.log")
        stack.callback(kill_process_group, sshd, grace_s=1.0)
        wait_listening(f"{net}.2", 22, sshd, tmp / "sshd.log")
        yield SshHost(name, f"{net}.2", tmp, host_key), stack
