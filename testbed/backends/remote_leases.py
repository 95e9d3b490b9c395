"""Board leases kept on the lab host the boards hang off, so runs from any machine see them.

A board on a lab host is leased in that host's lease directory, not in this machine's: two lab
PCs driving one Pi then never share a board. Each step of the store (read, create, replace,
remove) is ONE command over the host's SSH session: `python3 -c PROGRAM op directory name`,
the new bytes and the expected bytes on stdin (base64 in a JSON object), the file's bytes back
on stdout (base64). PROGRAM does on the host exactly what LocalLeaseStore does here: exclusive
create by link(2), compare-and-swap replace and remove under flock(2) of the directory. So no
lock is held across the network and nothing runs on the host between steps; the host needs
only sshd and python3 (3.6 or later).

Its exit status is the answer: 0 true, 1 false; anything else (a directory it may not write,
python3 missing, the session lost) is a BoardError naming the host and the step, which
`testbed lab status` shows as "unknown" and a renewal rides out (the lease has ttl left).

The directory: the host's `leases:` in the lab file, else the rule of `default_lease_dir`
evaluated ON the host as the SSH user: /run/testbed/leases for root or when writable there
(`install -d -m 2775 -g <group> /run/testbed/leases` on the host, for a lab whose users log in
under their own names), else that user's ~/.local/state/testbed/leases.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.backends.leases import _NAME, MAX_LEASE_BYTES
from testbed.backends.remote import CONNECT_TIMEOUT_S, LabHost
from testbed.errors import BoardError, RemoteError

if TYPE_CHECKING:
    from testbed.config.lab import Lab

#: one lease step; far below the ttl (a renewal past it is retried at the next)
STEP_TIMEOUT_S = 20.0
#: after a failed connect, steps fail at once for this long instead of each waiting out the
#: connect timeout again (`lab status` of a lab with ten boards on a host that is down)
RECONNECT_AFTER_S = 5.0
#: exit statuses of PROGRAM besides 0 (true) and 1 (false)
_FAILED, _CRASHED = 3, 4

#: Runs on the lab host: `python3 -c PROGRAM op directory name`, stdin {"data", "expected"}
#: (base64; expected null: any). First line out: the directory used; then, for `read`, the
#: file's first MAX+1 bytes in base64. Mirrors LocalLeaseStore line for line.
PROGRAM = r"""
import base64, errno, fcntl, json, os, re, secrets, sys
def fail(why):
    sys.stderr.write(why + "\n"); sys.exit(3)
def main():
    op, directory, name, most = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.lease", name):
        fail("not a lease file name: %r" % name)
    if not directory:
        system = "/run/testbed/leases"
        if os.environ.get("TESTBED_LEASE_DIR"):
            directory = os.environ["TESTBED_LEASE_DIR"]
        elif os.geteuid() == 0 or os.access(system, os.W_OK | os.X_OK):
            directory = system
        else:
            state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
            directory = os.path.join(state, "testbed", "leases")
    print(directory, flush=True)
    given = json.loads(sys.stdin.read() or "{}")
    unpack = lambda key: None if given.get(key) is None else base64.b64decode(given[key])
    data, expected = unpack("data"), unpack("expected")
    path = os.path.join(directory, name)
    def read():
        try:
            with open(path, "rb") as f:
                return f.read(most + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            fail("lease %s: cannot read: %s" % (path, exc.strerror))
    if op == "read":
        current = read()
        if current is None:
            sys.exit(1)
        print(base64.b64encode(current).decode())
        sys.exit(0)
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        fail("lease directory %s: %s (name a directory you may write as `leases:` of the "
             "host in the lab file)" % (directory, exc.strerror))
    fcntl.flock(fd, fcntl.LOCK_EX)
    def temporary():
        tmp = os.path.join(directory, ".%s.%d.%s.tmp" % (name, os.getpid(), secrets.token_hex(4)))
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(out, data)
                os.fsync(out)
            finally:
                os.close(out)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            fail("lease %s: cannot write: %s" % (path, exc.strerror))
        return tmp
    done = False
    if op == "create":
        tmp = temporary()
        try:
            os.link(tmp, path)
            done = True
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    elif op == "replace":
        if read() == expected:
            tmp = temporary()
            try:
                os.rename(tmp, path)
            except OSError:
                os.unlink(tmp)
                raise
            done = True
    elif op == "remove":
        current = read()
        if current is not None and (expected is None or current == expected):
            os.unlink(path)
            done = True
    else:
        fail("no such lease step: %r" % op)
    sys.exit(0 if done else 1)
try:
    main()
except SystemExit:
    raise
except BaseException as exc:
    sys.stderr.write("%s: %s\n" % (type(exc).__name__, exc)); sys.exit(4)
"""


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


class RemoteLeaseStore:
    """The lease directory on lab host `host` of `lab`, reached over one SSH session opened on
    the first step and kept until `close()` (a later step opens a new one). Thread-safe: a
    run's renewal thread and its main thread take turns on the session."""

    def __init__(self, lab: Lab, host: str, *, log: Path | None = None,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 step_timeout_s: float = STEP_TIMEOUT_S) -> None:
        self.lab = lab
        self.host = host
        #: every step's command and answer (the lease files' bytes, base64); default: none
        self.log = log if log is not None else Path(os.devnull)
        self.connect_timeout_s = connect_timeout_s
        self.step_timeout_s = step_timeout_s
        #: as the lab file names it; else learnt from the host at the first step
        self.directory: str | None = lab.hosts[host].leases
        self._session: LabHost | None = None
        self._refused: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RemoteLeaseStore {self.host}:{self.directory or '<lease dir>'}>"

    def where(self, name: str) -> str:
        return f"{self.host}:{self.directory or '<lease dir>'}/{name}"

    def read(self, name: str) -> bytes | None:
        out = self._step("read", name)
        return None if out is None else base64.b64decode(out)

    def create(self, name: str, data: bytes) -> bool:
        return self._step("create", name, {"data": _b64(data)}) is not None

    def replace(self, name: str, data: bytes, *, expected: bytes) -> bool:
        return self._step("replace", name,
                          {"data": _b64(data), "expected": _b64(expected)}) is not None

    def remove(self, name: str, *, expected: bytes | None = None) -> bool:
        return self._step("remove", name, {"expected": _b64(expected)}) is not None

    def close(self) -> None:
        """End the SSH session (safe to call twice; a later step opens a new one)."""
        with self._lock:
            self._drop()

    # ---------------------------------------------------------------------------------------

    def _step(self, op: str, name: str, given: dict[str, str | None] | None = None
              ) -> str | None:
        """Run PROGRAM for one step: what it printed after the directory line (True), or None
        for its answer False."""
        if not _NAME.fullmatch(name):  # never sent: the host sees only names we would write
            raise ValueError(f"not a lease file name: {name!r}")
        argv = ["python3", "-c", PROGRAM, op, self.directory or "", name, str(MAX_LEASE_BYTES)]
        stdin = json.dumps(given or {}).encode("ascii")
        what = f"board leases on host {self.host}: {op} {name}"
        with self._lock:
            session = self._open(what)
            try:
                done = session.run(argv, timeout_s=self.step_timeout_s, check=False,
                                   stdin=stdin)
            except RemoteError as exc:  # the session is lost or hangs: a new one next time
                self._drop()
                raise BoardError(f"{what}: {_short(exc)}") from None
        lines = done.stdout.splitlines()
        if done.status in (0, 1) and lines:
            self.directory = lines[0]
            if done.status == 1:
                return None
            return lines[1] if len(lines) > 1 else ""
        why = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.status}"]
        if done.status == 127:
            why = ["python3 not found there (the lease store needs it)"]
        raise BoardError(f"{what}: {why[0][-300:]}")

    def _open(self, what: str) -> LabHost:
        if self._session is not None:
            return self._session
        if self._refused is not None and time.monotonic() - self._refused[0] < RECONNECT_AFTER_S:
            raise BoardError(f"{what}: {self._refused[1]}")
        session = LabHost.for_lab(self.lab, self.host, log=self.log,
                                  connect_timeout_s=self.connect_timeout_s,
                                  timeout_s=self.step_timeout_s)
        try:
            session.open()
        except RemoteError as exc:
            self._refused = (time.monotonic(), _short(exc))
            raise BoardError(f"{what}: {self._refused[1]}") from None
        self._refused = None
        self._session = session
        return session

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except RemoteError:
                pass


def _short(exc: RemoteError) -> str:
    """The error without a pointer to a log that is /dev/null."""
    return str(exc).removesuffix(f"; log: {os.devnull}")
