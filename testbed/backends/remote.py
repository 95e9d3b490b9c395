"""A lab host over SSH (fabric, on paramiko): commands there as argv lists, files there and back.

What it is: how the testbed acts on another lab host, the one a board is plugged into: it runs
the board's flasher there (flash.RemoteCommandFlasher), copies the image there first and
collects logs back. Trust is the lab file's, never the network's:
- key authentication only: the host's `identity:` key (no agent, no ~/.ssh keys then), or,
  without one, the user's agent and default keys; never a password, never agent forwarding,
  and ~/.ssh/config is not read (what the lab file says is what happens);
- strict host keys: the host's key must be in the lab's `known_hosts:` file (else
  ~/.ssh/known_hosts). An unknown key or a changed one is refused (a paramiko RejectPolicy),
  never added: one RemoteError naming the host, the key and the file.

Every command is an argv list, joined with shlex.join for the remote user's shell, so each
argument arrives as exactly one argument: text from a lab file is never code there. It runs
under coreutils `timeout` on the host, so a command past its time is ended there, not just
abandoned, and its output (stdout and stderr) goes to a log file here as it comes.

What it is not: the serial path to a board (pyserial's rfc2217:// reaches ser2net on the host
directly, testbed/backends/raw_repl.py), nor a lease on a board.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from invoke.exceptions import ThreadException
from paramiko import SSHException

from testbed.config.lab import Host, Lab
from testbed.errors import BadInput, RemoteError

CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 300.0
KILL_AFTER_S = 2  # `timeout -k`: SIGKILL this long after the SIGTERM of a command past its time
TIMED_OUT = 124  # coreutils timeout's status for a command it ended
TAIL_CHARS = 300  # of a failed command's stderr, in its error message
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
#: what a lost link or a failed transfer raises from paramiko and invoke
_LOST = (SSHException, OSError, EOFError, ThreadException)


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """One command run on a lab host."""

    argv: tuple[str, ...]
    status: int
    stdout: str
    stderr: str
    seconds: float


def _refusal(host: Host, known_hosts: Path, key: Any, what: str) -> RemoteError:
    kind = next((k for k in ("ed25519", "ecdsa", "rsa") if k in key.get_name()), "*")
    port = "" if host.ssh_port == 22 else f" -p {host.ssh_port}"
    return RemoteError(
        f"host {host.name} ({host.address}:{host.ssh_port}): {what}: it offered "
        f"{key.get_name()} {key.fingerprint}; connection refused. Compare with the host's own "
        f"key (ssh-keygen -lf /etc/ssh/ssh_host_{kind}_key.pub on it); if they match, put its "
        f"line in {known_hosts} (ssh-keyscan{port} {host.address})")


def _reject_policy(host: Host, known_hosts: Path) -> Any:
    from paramiko import RejectPolicy

    class RefuseUnknown(RejectPolicy):
        """paramiko's RejectPolicy, with a message that names the host and the file."""

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            raise _refusal(host, known_hosts, key, f"host key not in {known_hosts}")

    return RefuseUnknown()


class LabHost:
    """An SSH session to one lab host. The constructor does no I/O; `with LabHost(...) as h:`
    connects (checking the host key) and closes, removing `h.workdir` if one was made.

        with LabHost.for_lab(lab, "labpi", log=Path("reports/hosts/labpi.log")) as pi:
            image = pi.put(Path("build/zoul/coap-sensor.bin"))     # into pi.workdir
            pi.run(["cc2538-bsl.py", "-p", "/dev/ttyUSB0", image], timeout_s=120)
            pi.get("/var/log/ser2net.log", Path("reports/hosts/ser2net.log"))
    """

    def __init__(self, host: Host, *, log: Path, identity: Path | None = None,
                 known_hosts: Path = DEFAULT_KNOWN_HOSTS,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        self.host = host
        self.log = log
        self.identity = identity
        self.known_hosts = known_hosts
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self._connection: Any = None
        self._workdir: str | None = None

    def __repr__(self) -> str:
        return f"<LabHost {self.host.name} {self.host.ssh}>"

    @classmethod
    def for_lab(cls, lab: Lab, name: str, *, log: Path, **options: Any) -> LabHost:
        """The host `name` of `lab`, its identity and known_hosts taken from the lab file's
        directory (relative paths) and checked to exist. Options: connect_timeout_s,
        timeout_s (per command)."""
        shown = str(lab.source) if lab.source is not None else f"lab {lab.name}"
        host = lab.hosts.get(name)
        if host is None:
            raise BadInput(f"{shown}: no host {name!r} under hosts: (hosts: "
                           f"{', '.join(lab.hosts) or 'none'})")

        def resolved(value: str | None, what: str) -> Path | None:
            if value is None:
                return None
            path = Path(value).expanduser()
            if not path.is_absolute() and lab.directory is not None:
                path = lab.directory / path
            if not path.is_file():
                raise BadInput(f"{shown}: hosts.{name}.{what}: no such file {path}")
            return path

        identity = resolved(host.identity, "identity")
        known_hosts = resolved(host.known_hosts, "known_hosts")
        if known_hosts is None:
            known_hosts = DEFAULT_KNOWN_HOSTS.expanduser()
            if not known_hosts.is_file():
                raise BadInput(f"{shown}: hosts.{name}: no known_hosts given and no "
                               f"{known_hosts}: add `known_hosts: <file>` holding {name}'s "
                               "host key (ssh-keyscan), so the host can be checked")
        return cls(host, log=log, identity=identity, known_hosts=known_hosts, **options)

    # --- session ----------------------------------------------------------------------------

    def __enter__(self) -> LabHost:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        """Connect: the host key checked against `known_hosts`, then key authentication."""
        from fabric import Config, Connection
        from paramiko import AuthenticationException, BadHostKeyException, SSHConfig

        key_auth: dict[str, Any] = (
            {"key_filename": [str(self.identity)], "allow_agent": False, "look_for_keys": False}
            if self.identity is not None else {"allow_agent": True, "look_for_keys": True})
        connection = Connection(
            self.host.address, user=self.host.user, port=self.host.ssh_port,
            # the lab file decides: no ~/.ssh/config, no fabric.yaml of the user's
            config=Config(ssh_config=SSHConfig(), lazy=True,
                          overrides={"load_ssh_configs": False}),
            forward_agent=False, connect_timeout=max(1, round(self.connect_timeout_s)),
            connect_kwargs={**key_auth, "password": None,
                            "banner_timeout": self.connect_timeout_s,
                            "auth_timeout": self.connect_timeout_s})
        client = connection.client
        try:
            client.load_system_host_keys(str(self.known_hosts))  # read only: never written
        except (OSError, SSHException, ValueError) as exc:
            raise BadInput(f"host {self.host.name}: cannot read known_hosts file "
                           f"{self.known_hosts}: {exc}") from None
        client.set_missing_host_key_policy(_reject_policy(self.host, self.known_hosts))
        where = f"host {self.host.name} ({self.host.ssh})"
        try:
            connection.open()
        except RemoteError:
            connection.close()
            raise
        except BadHostKeyException as exc:
            connection.close()
            raise _refusal(self.host, self.known_hosts, exc.key,
                           f"host key CHANGED: {self.known_hosts} holds "
                           f"{exc.expected_key.fingerprint} for it") from None
        except AuthenticationException as exc:
            connection.close()
            how = (f"with key {self.identity}" if self.identity is not None
                   else "with the agent's and ~/.ssh's keys")
            raise RemoteError(f"{where}: key authentication {how} failed ({exc}); is its "
                              "public key in the host's authorized_keys?") from None
        except (SSHException, OSError, EOFError) as exc:  # socket.timeout is an OSError
            connection.close()
            errors = getattr(exc, "errors", None)  # NoValidConnectionsError: one per address
            reason = ("; ".join(sorted({e.strerror or str(e) for e in errors.values()}))
                      if errors else str(exc) or type(exc).__name__)
            raise RemoteError(f"{where}: cannot connect (timeout {self.connect_timeout_s:g} s): "
                              f"{reason}") from None
        self._connection = connection
        self.log.parent.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Remove the workdir (if made) and disconnect; safe to call twice."""
        if self._connection is None:
            return
        try:
            if self._workdir is not None:
                try:
                    self.run(["rm", "-rf", "--", self._workdir], timeout_s=30, check=False)
                except RemoteError:
                    pass  # the host went away: what is left is in its /tmp
        finally:
            self._workdir = None
            self._connection.close()
            self._connection = None

    def _need(self) -> Any:
        if self._connection is None:
            raise RemoteError(f"host {self.host.name}: not connected (use `with LabHost(...)`)")
        return self._connection

    # --- commands ---------------------------------------------------------------------------

    def run(self, argv: list[str] | tuple[str, ...], *, timeout_s: float | None = None,
            check: bool = True, stdin: bytes | None = None) -> RemoteResult:
        """Run `argv` on the host, each argument exactly one argument there; its stdout and
        stderr are returned as received and written to the log as they come. `stdin`: sent
        to the command whole, then end of file (ASCII only: invoke carries text, so binary
        goes base64); None: the command reads end of file at once. `check`: a non-zero status
        is a RemoteError (with the last of stderr); a command past `timeout_s` always is."""
        from invoke.exceptions import CommandTimedOut

        if isinstance(argv, (str, bytes)) or not argv:
            raise TypeError("argv must be a non-empty list of arguments, not a string (no shell)")
        if stdin is not None and not (isinstance(stdin, bytes) and stdin.isascii()):
            raise TypeError("stdin must be ASCII bytes (send binary data base64)")
        argv = tuple(str(argument) for argument in argv)
        connection = self._need()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        command = shlex.join(["timeout", "-k", str(KILL_AFTER_S), f"{timeout:g}", *argv])
        where = f"host {self.host.name}: {shlex.join(argv)[:200]}"
        started = time.monotonic()
        with open(self.log, "a", encoding="utf-8", errors="replace") as log:
            log.write(f"$ {shlex.join(argv)}\n")
            log.flush()
            try:
                result = connection.run(
                    command, hide=False, warn=True, pty=False,
                    in_stream=False if stdin is None else _WholeInput(stdin.decode("ascii")),
                    out_stream=_Flushing(log), err_stream=_Flushing(log),
                    timeout=timeout + KILL_AFTER_S + self.connect_timeout_s)
            except CommandTimedOut:
                raise RemoteError(f"{where}: no answer within {timeout:g} s (the host or the "
                                  f"network hangs); log: {self.log}") from None
            except _LOST as exc:
                raise RemoteError(f"{where}: the SSH session failed: "
                                  f"{exc or type(exc).__name__}; log: {self.log}") from None
            log.write(f"[exit status {result.exited}]\n")
        done = RemoteResult(argv=argv, status=result.exited, stdout=result.stdout,
                            stderr=result.stderr, seconds=time.monotonic() - started)
        if done.status == TIMED_OUT:
            raise RemoteError(f"{where}: did not finish within {timeout:g} s (ended there); "
                              f"log: {self.log}")
        if check and done.status != 0:
            tail = done.stderr.strip()[-TAIL_CHARS:] or "(no error output)"
            raise RemoteError(f"{where}: exit status {done.status}: {tail}; log: {self.log}")
        return done

    @property
    def workdir(self) -> str:
        """A directory of our own on the host (mktemp -d), made on first use, removed on close."""
        if self._workdir is None:
            made = self.run(["mktemp", "-d", "/tmp/tb-host-XXXXXXXX"], timeout_s=30)
            self._workdir = made.stdout.strip()
        return self._workdir

    # --- files ------------------------------------------------------------------------------

    def put(self, local: Path, remote: str | None = None) -> str:
        """Copy `local` to the host (SFTP): to `remote`, or into `workdir` under its own name.
        Returns the path there."""
        local = Path(local)
        if not local.is_file():
            raise BadInput(f"{local}: no such file to copy to host {self.host.name}")
        connection = self._need()
        target = remote if remote is not None else f"{self.workdir}/{local.name}"
        try:
            connection.put(str(local), remote=target)
        except _LOST as exc:
            raise RemoteError(f"host {self.host.name}: cannot copy {local} to {target}: "
                              f"{exc or type(exc).__name__}") from None
        self._note(f"put {local} -> {target} ({local.stat().st_size} bytes)")
        return target

    def get(self, remote: str, local: Path) -> Path:
        """Copy `remote` from the host to `local` here (SFTP), e.g. a log; returns `local`."""
        connection = self._need()
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection.get(remote, local=str(local))
        except FileNotFoundError:
            local.unlink(missing_ok=True)
            raise RemoteError(f"host {self.host.name}: no such file {remote}") from None
        except _LOST as exc:
            local.unlink(missing_ok=True)
            raise RemoteError(f"host {self.host.name}: cannot fetch {remote}: "
                              f"{exc or type(exc).__name__}") from None
        self._note(f"get {remote} -> {local} ({local.stat().st_size} bytes)")
        return local

    def _note(self, line: str) -> None:
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(f"# {line}\n")


class _Flushing:
    """A text stream that flushes each write: the log shows a long flasher as it goes."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._stream.flush()
        return written

    def flush(self) -> None:
        self._stream.flush()



class _WholeInput:
    """Text for a command's stdin, handed over in one read: invoke asks a stream without a
    file descriptor for one byte per read and naps 10 ms between reads (5 s for 500 bytes)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def read(self, size: int = -1) -> str:
        text, self._text = self._text, ""
        return text
