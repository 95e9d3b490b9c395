"""Board leases: a run holds every board it uses, so two runs never share one.

A lease is a small JSON file per board, `<lab>.<board>.lease`, in a lease directory that lives
where the boards live: for boards on this machine a machine-wide directory (/run/testbed/leases
for root; see `default_lease_dir`), for boards on a lab host the same directory on that host.
It records who holds the board (user@host, pid and its start time, run id, the command line)
and until when. The holder renews it every ttl/3 from a daemon thread and removes it at the end,
also on Ctrl-C; a holder that dies leaves a lease that expires by time (default 60 s), or at
once when its pid is dead on the machine that looks (same hostname only: a pid means nothing
elsewhere).

Boards on a lab host are leased on that host (RemoteLeaseStore, testbed/backends/
remote_leases.py: one SSH command per step), so runs started from any machine are kept apart.

Why files and not labgrid's coordinator or a lock server: labgrid is not a dependency here and
its coordinator is one more daemon a lab must run and keep up; a `flock` taken through fabric
lasts only as long as its SSH session, so a run must keep one open throughout and a dropped
connection frees the board mid-run. A lease file with an expiry needs nothing running on the
lab host, rides out a dropped connection for ttl seconds, and shows its holder to a `cat`.
Clocks of the hosts must agree to well under the ttl (NTP does).

Every change is one atomic step in the store, so the store on a lab host needs one round trip
per step and holds no lock across the network:

- create: exclusive. The file is written whole to a temporary name, then link(2)ed to its name,
  which fails if the name exists (never a half-written lease, even after a crash);
- replace / remove: compare-and-swap on the file's bytes, under flock(2) on the lease directory:
  renewing or taking over an expired lease succeeds only if the file still holds exactly what the
  caller read, so of any number of takers of one expired lease exactly one wins.

A lease file that does not parse (foreign, truncated by hand, any bytes) is reported with its
path and counts as held, with no expiry: the testbed cannot know whose it is, so it never takes
it by itself; `testbed lab release LAB BOARD --force` removes it.

This is not an access control: a run that ignores leases (another tool, a person with a
terminal) still reaches the board.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import getpass
import json
import os
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from testbed.backends import userns
from testbed.backends.processes import pid_start_time
from testbed.errors import BadInput, BoardBusy, BoardError, LeaseLost

if TYPE_CHECKING:
    from testbed.config.lab import Board, Lab

LEASE_DIR_ENV = "TESTBED_LEASE_DIR"
#: machine-wide, on tmpfs (gone with a reboot, as the processes holding leases are)
SYSTEM_LEASE_DIR = Path("/run/testbed/leases")
DEFAULT_TTL_S = 60.0
#: a lease file is a few hundred bytes; anything longer is not ours
MAX_LEASE_BYTES = 64 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.lease")


def default_lease_dir() -> Path:
    """$TESTBED_LEASE_DIR, else /run/testbed/leases for root or when it is writable (a lab whose
    users share it: `install -d -m 2775 -g <group> /run/testbed/leases`), else the user's
    ${XDG_STATE_HOME:-~/.local/state}/testbed/leases.

    Not $XDG_RUNTIME_DIR: the unprivileged backend runs inside a private tmpfs on /run, which
    hides /run/user/<uid> (and /run/testbed) from the run that needs the lease.
    """
    if os.environ.get(LEASE_DIR_ENV):
        return Path(os.environ[LEASE_DIR_ENV])
    if not userns.in_private_userns() and (
            os.geteuid() == 0 or os.access(SYSTEM_LEASE_DIR, os.W_OK | os.X_OK)):
        return SYSTEM_LEASE_DIR
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "testbed" / "leases"


def lease_name(lab: str, board: str) -> str:
    """The file name of a board's lease: lab name and board name (both validated by the lab
    file's schema: no '/', no leading '.')."""
    return f"{lab}.{board}.lease"


# --- the store ------------------------------------------------------------------------------


class LeaseStore(Protocol):
    """Small files in one lease directory; each method is one atomic step where the files are.

    `name` is a bare file name (`<lab>.<board>.lease`), never a path.
    """

    def where(self, name: str) -> str:
        """Where the file is, for messages: a path, or host:path."""
        ...

    def read(self, name: str) -> bytes | None:
        """The file's bytes (at most MAX_LEASE_BYTES + 1), None if there is none."""
        ...

    def create(self, name: str, data: bytes) -> bool:
        """Write `data` as `name` if no such file exists (exclusive); False if one does."""
        ...

    def replace(self, name: str, data: bytes, *, expected: bytes) -> bool:
        """Write `data` as `name` if the file holds exactly `expected`; False otherwise."""
        ...

    def remove(self, name: str, *, expected: bytes | None = None) -> bool:
        """Remove `name` if it exists (and holds exactly `expected`, when given); False if not."""
        ...


@dataclass(frozen=True, slots=True)
class LocalLeaseStore:
    """The lease directory on this machine. Constructing it does no I/O; the directory is made
    on first write."""

    directory: Path = field(default_factory=default_lease_dir)

    def where(self, name: str) -> str:
        return str(self.directory / name)

    def read(self, name: str) -> bytes | None:
        try:
            with open(self._path(name), "rb") as f:
                return f.read(MAX_LEASE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BoardError(f"lease {self.where(name)}: cannot read: {exc.strerror}") from None

    def create(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        with self._locked(), self._temporary(name, data) as tmp:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        return True

    def replace(self, name: str, data: bytes, *, expected: bytes) -> bool:
        path = self._path(name)
        with self._locked():
            if self.read(name) != expected:
                return False
            with self._temporary(name, data) as tmp:
                os.rename(tmp, path)
        return True

    def remove(self, name: str, *, expected: bytes | None = None) -> bool:
        with self._locked():
            current = self.read(name)
            if current is None or (expected is not None and current != expected):
                return False
            self._path(name).unlink()
        return True

    def _path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a lease file name: {name!r}")
        return self.directory / name

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """flock(2) on the directory itself: every compare-and-swap of every process here is
        serialised; the lock goes with the descriptor, also when the process is killed."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise BoardError(f"lease directory {self.directory}: {exc.strerror} (set "
                             f"{LEASE_DIR_ENV} to a directory you may write)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _temporary(self, name: str, data: bytes) -> Iterator[Path]:
        """`data` whole and synced under a name no reader takes for a lease; removed after."""
        tmp = self.directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            yield tmp
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOSPC):
                raise BoardError(f"lease {self.where(name)}: cannot write: {exc.strerror}") \
                    from None
            raise
        finally:
            tmp.unlink(missing_ok=True)


#: which store holds the leases of boards on `host` (None: this machine)
StoreFor = Callable[["Lab", "str | None"], LeaseStore]


def store_for(lab: Lab, host: str | None) -> LeaseStore:
    """Where the leases of `lab`'s boards on `host` live (None: this machine's boards): the
    one place a remote store plugs in.

    Boards on a lab host are leased in that host's lease directory, over SSH
    (RemoteLeaseStore: connects on its first step, one session until `close()`).
    """
    if host is None:
        return LocalLeaseStore()
    from testbed.backends.remote_leases import RemoteLeaseStore

    return RemoteLeaseStore(lab, host)


class _Stores:
    """The stores of one operation, one per host (so one SSH session per lab host, not one
    per board and step); `close()` ends the sessions."""

    def __init__(self, lab: Lab, stores: StoreFor) -> None:
        self._lab = lab
        self._stores = stores
        self._made: dict[str | None, LeaseStore] = {}

    def __call__(self, host: str | None) -> LeaseStore:
        if host not in self._made:
            self._made[host] = self._stores(self._lab, host)
        return self._made[host]

    def close(self) -> None:
        for store in self._made.values():
            close = getattr(store, "close", None)  # a store of files here has nothing to end
            if close is not None:
                with contextlib.suppress(BoardError, OSError):
                    close()
        self._made.clear()


# --- the record -----------------------------------------------------------------------------


def _now() -> _dt.datetime:
    """UTC, to the millisecond a lease file keeps (so a lease equals its file read back)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _owner() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class UnreadableLease(ValueError):
    """A lease file that is not a lease this testbed wrote."""


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds one board of a lab, and until when."""

    lab: str
    board: str
    #: user@host of the holder
    owner: str
    #: the holder's hostname (its pid means something only there)
    host: str
    pid: int
    #: the pid's start time (clock ticks since boot): a recycled pid is not the holder
    pid_start: int | None
    run_id: str
    acquired: _dt.datetime
    renewed: _dt.datetime
    expires: _dt.datetime
    command: tuple[str, ...] = ()

    @classmethod
    def mine(cls, lab: str, board: str, *, run_id: str, ttl_s: float) -> Lease:
        now = _now()
        return cls(lab=lab, board=board, owner=_owner(), host=socket.gethostname(),
                   pid=os.getpid(), pid_start=pid_start_time(os.getpid()), run_id=run_id,
                   acquired=now, renewed=now, expires=now + _dt.timedelta(seconds=ttl_s),
                   command=tuple(sys.argv))

    def renewed_for(self, ttl_s: float) -> Lease:
        now = _now()
        return replace(self, renewed=now, expires=now + _dt.timedelta(seconds=ttl_s))

    def expired(self, now: _dt.datetime | None = None) -> bool:
        return (now or _now()) >= self.expires

    def owner_dead_here(self) -> bool:
        """The holder ran on this machine and that process (pid and start time) is gone."""
        if self.host != socket.gethostname():
            return False
        start = pid_start_time(self.pid)
        return start is None or (self.pid_start is not None and start != self.pid_start)

    def holder(self) -> str:
        """`alice@labpc (run 3fa2c1, pid 4242)`: who to ask."""
        return f"{self.owner} (run {self.run_id}, pid {self.pid})"

    def to_json(self) -> dict[str, Any]:
        return {"lab": self.lab, "board": self.board, "owner": self.owner, "host": self.host,
                "pid": self.pid, "pid_start": self.pid_start, "run_id": self.run_id,
                "acquired": _iso(self.acquired), "renewed": _iso(self.renewed),
                "expires": _iso(self.expires), "command": list(self.command)}

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Lease:
        """Parse a lease file; UnreadableLease (saying what is wrong) for anything else."""
        if len(data) > MAX_LEASE_BYTES:
            raise UnreadableLease(f"longer than {MAX_LEASE_BYTES} bytes")
        try:
            d = json.loads(data)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise UnreadableLease(f"not JSON ({type(exc).__name__})") from None
        if not isinstance(d, dict):
            raise UnreadableLease(f"not a JSON object (a {type(d).__name__})")
        try:
            strings = {k: d[k] for k in ("lab", "board", "owner", "host", "run_id")}
            if not all(isinstance(v, str) for v in strings.values()):
                raise TypeError("lab, board, owner, host and run_id must be strings")
            pid, pid_start, command = d["pid"], d.get("pid_start"), d.get("command", [])
            if type(pid) is not int or not (pid_start is None or type(pid_start) is int):
                raise TypeError("pid and pid_start must be integers")
            if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
                raise TypeError("command must be a list of strings")
            times = {k: _dt.datetime.fromisoformat(d[k])
                     for k in ("acquired", "renewed", "expires")}
            if any(t.tzinfo is None for t in times.values()):
                raise ValueError("times must carry a UTC offset")
        except KeyError as exc:
            raise UnreadableLease(f"no {exc.args[0]!r}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise UnreadableLease(str(exc)) from None
        return cls(**strings, pid=pid, pid_start=pid_start, command=tuple(command), **times)


# --- who holds what -------------------------------------------------------------------------


class LeaseState(StrEnum):
    FREE = "free"
    HELD = "held"
    #: past its expiry, or its holder is dead on this machine: the next run takes it
    EXPIRED = "expired"
    #: the file does not parse: held until an operator removes it
    UNREADABLE = "unreadable"
    #: the store could not be asked (a lab host without a lease store, an I/O error)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class BoardStatus:
    """One board's line of `testbed lab status`."""

    board: Board
    state: LeaseState
    lease: Lease | None = None
    #: where the lease file is
    where: str = ""
    #: why the state is UNREADABLE or UNKNOWN, or why a lease counts as EXPIRED
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        b = self.board
        return {"board": b.name, "platform": str(b.platform), "node": b.node,
                "port": b.port or b.emulator, "host": b.host, "state": str(self.state),
                "lease": self.lease.to_json() if self.lease else None, "file": self.where,
                "detail": self.detail}


def _status(store: LeaseStore, lab: str, board: Board) -> tuple[BoardStatus, bytes | None]:
    """The board's state and the exact bytes it was judged on (what a takeover compares)."""
    name = lease_name(lab, board.name)
    data = store.read(name)
    where = store.where(name)  # after the read: a host's store has learnt its directory
    if data is None:
        return BoardStatus(board, LeaseState.FREE, where=where), None
    try:
        lease = Lease.from_bytes(data)
    except UnreadableLease as exc:
        return BoardStatus(board, LeaseState.UNREADABLE, where=where,
                           detail=f"unreadable lease {where}: {exc}"), data
    if lease.expired():
        return BoardStatus(board, LeaseState.EXPIRED, lease, where, "expired"), data
    if lease.owner_dead_here():
        return BoardStatus(board, LeaseState.EXPIRED, lease, where,
                           f"holder pid {lease.pid} is dead on this host"), data
    return BoardStatus(board, LeaseState.HELD, lease, where), data


def lab_status(lab: Lab, *, stores: StoreFor = store_for) -> list[BoardStatus]:
    """Every board of the lab, in file order: free, held (by whom, until when), expired,
    unreadable (the file named) or unknown (the store could not be asked)."""
    rows = []
    by_host = _Stores(lab, stores)
    try:
        for board in lab.boards.values():
            try:
                rows.append(_status(by_host(board.host), lab.name, board)[0])
            except (BoardError, BadInput) as exc:  # a lab host down, or no known_hosts here
                rows.append(BoardStatus(board, LeaseState.UNKNOWN, detail=str(exc)))
    finally:
        by_host.close()
    return rows


def release(lab: Lab, board_name: str, *, stores: StoreFor = store_for) -> BoardStatus:
    """Remove a board's lease whoever holds it (an operator freeing a stuck board); the
    status it had, so the caller can say whose lease it was."""
    board = lab.boards[board_name]
    by_host = _Stores(lab, stores)
    try:
        store = by_host(board.host)
        for _ in range(10):  # the lease changes under us only while its holder renews it
            status, data = _status(store, lab.name, board)
            if data is None or store.remove(lease_name(lab.name, board.name), expected=data):
                return status
    finally:
        by_host.close()
    raise BoardError(f"lease {status.where}: changed ten times while being removed")


# --- taking and holding ---------------------------------------------------------------------


@dataclass(slots=True)
class _Held:
    store: LeaseStore
    name: str
    lease: Lease
    data: bytes
    #: a renewal whose step failed: it may have been written there and only the answer lost
    #: (a lab host's SSH session dropped), so the file may hold these bytes instead of `data`
    pending: bytes | None = None


def _take(store: LeaseStore, lab: str, board: Board, mine: Lease
          ) -> tuple[_Held | None, BoardStatus]:
    """One attempt at one board: the held lease, or None and who holds it."""
    name = lease_name(lab, board.name)
    data = mine.to_bytes()
    for _ in range(3):  # the file may vanish or change between our read and our write
        status, current = _status(store, lab, board)
        if status.state is LeaseState.FREE:
            if store.create(name, data):
                return _Held(store, name, mine, data), status
        elif status.state is LeaseState.EXPIRED:
            assert current is not None
            if store.replace(name, data, expected=current):
                return _Held(store, name, mine, data), status
        else:
            return None, status
    return None, _status(store, lab, board)[0]


def _held_by(lab: Lab, status: BoardStatus) -> str:
    """`board zoul1 of lab desk is held by alice@pc (run 3fa2c1, pid 4242) until <UTC>`."""
    if status.lease is None:
        return (f"board {status.board.name} of lab {lab.name}: "
                f"{status.detail or f'lease {status.where}'}")
    lease = status.lease
    return (f"board {status.board.name} of lab {lab.name} is held by {lease.holder()} until "
            f"{_iso(lease.expires)} (lease {status.where})")


def _busy(lab: Lab, status: BoardStatus, waited_s: float) -> BoardBusy:
    where = lab.source or lab.name
    return BoardBusy(f"{_held_by(lab, status)}; waited {waited_s:.1f} s; `testbed lab release "
                     f"{where} {status.board.name} --force` frees a stuck one")


class Leases:
    """The boards a run holds; renewed every ttl/3 by a daemon thread until `release()`.

    A lease found taken by someone else at renewal (the run stalled past its expiry, or an
    operator forced it free) is *lost*: `check()` raises LeaseLost, and so does leaving
    `lease_boards` normally.
    """

    def __init__(self, held: list[_Held], *, ttl_s: float, stores: _Stores | None = None
                 ) -> None:
        self._held = held
        self._stores = stores  # closed by release(): the SSH sessions to lab hosts
        self._ttl_s = ttl_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.lost: dict[str, str] = {}
        self._thread = threading.Thread(target=self._renew_loop, name="testbed-leases",
                                        daemon=True)

    @property
    def boards(self) -> tuple[str, ...]:
        return tuple(h.lease.board for h in self._held)

    def lease(self, board: str) -> Lease:
        with self._lock:
            return next(h.lease for h in self._held if h.lease.board == board)

    def start(self) -> None:
        self._thread.start()

    def renew(self) -> None:
        """Push every held lease's expiry to now + ttl (what the thread does every ttl/3)."""
        with self._lock:
            for h in self._held:
                if h.lease.board in self.lost:
                    continue
                new = h.lease.renewed_for(self._ttl_s)
                data = new.to_bytes()
                try:
                    ok = h.store.replace(h.name, data, expected=h.data)
                    if not ok and h.pending is not None:
                        ok = h.store.replace(h.name, data, expected=h.pending)
                except (BoardError, OSError) as exc:  # a hiccup: the lease still has ttl left
                    print(f"testbed: lease {h.store.where(h.name)}: renewal failed: {exc}",
                          file=sys.stderr)
                    h.pending = data
                    continue
                h.pending = None
                if ok:
                    h.lease, h.data = new, data
                else:
                    self.lost[h.lease.board] = (f"lease {h.store.where(h.name)} was taken "
                                                "from this run (it expired, or was released by "
                                                "force)")

    def check(self) -> None:
        """LeaseLost if a board's lease was taken from this run."""
        if self.lost:
            raise LeaseLost("; ".join(f"board {b}: {why}" for b, why in self.lost.items()))

    def release(self) -> None:
        """Stop renewing and remove our lease files (only if they are still ours)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            for h in reversed(self._held):
                with contextlib.suppress(BoardError, OSError):
                    if not h.store.remove(h.name, expected=h.data) and h.pending is not None:
                        h.store.remove(h.name, expected=h.pending)
            self._held = []
            if self._stores is not None:
                self._stores.close()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._ttl_s / 3):
            self.renew()


def acquire(lab: Lab, boards: Sequence[str], *, run_id: str, timeout_s: float = 0.0,
            ttl_s: float = DEFAULT_TTL_S, stores: StoreFor = store_for,
            on_wait: Callable[[str], object] | None = None) -> Leases:
    """Lease every board of `boards` or none: taken in sorted order; if one is held, the ones
    taken are released and the whole set is tried again with backoff until `timeout_s`, then
    BoardBusy names the holder (`on_wait` is told once, with the same words, that we wait).
    The returned Leases is not renewing yet (`start()`)."""
    unknown = sorted(set(boards) - set(lab.boards))
    if unknown:
        raise BoardError(f"lab {lab.name}: no board {', '.join(unknown)} to lease")
    chosen = [lab.boards[name] for name in sorted(set(boards))]
    by_host = _Stores(lab, stores)  # kept across tries; the Leases returned closes them
    started = time.monotonic()
    delay = 0.05
    while True:
        held: list[_Held] = []
        blocker: BoardStatus | None = None
        try:
            for board in chosen:
                mine = Lease.mine(lab.name, board.name, run_id=run_id, ttl_s=ttl_s)
                taken, status = _take(by_host(board.host), lab.name, board, mine)
                if taken is None:
                    blocker = status
                    break
                held.append(taken)
        except BaseException:
            Leases(held, ttl_s=ttl_s, stores=by_host).release()
            raise
        if blocker is None:
            return Leases(held, ttl_s=ttl_s, stores=by_host)
        Leases(held, ttl_s=ttl_s).release()
        waited = time.monotonic() - started
        if waited >= timeout_s:
            by_host.close()
            raise _busy(lab, blocker, waited)
        if on_wait is not None:
            on_wait(f"{_held_by(lab, blocker)}: waiting up to {timeout_s:.0f} s")
            on_wait = None
        time.sleep(min(delay * random.uniform(0.5, 1.0), timeout_s - waited))
        delay = min(delay * 2, 1.0)


@contextlib.contextmanager
def lease_boards(lab: Lab, boards: Sequence[str], *, run_id: str, timeout_s: float = 0.0,
                 ttl_s: float = DEFAULT_TTL_S, stores: StoreFor = store_for,
                 on_wait: Callable[[str], object] | None = None) -> Iterator[Leases]:
    """Hold `boards` of `lab` for the `with` block: acquired all-or-nothing (waiting up to
    `timeout_s`, then BoardBusy), renewed in the background, released on the way out, also on
    KeyboardInterrupt and exceptions. Leaving normally raises LeaseLost if a lease was taken
    from the run meanwhile."""
    leases = acquire(lab, boards, run_id=run_id, timeout_s=timeout_s, ttl_s=ttl_s,
                     stores=stores, on_wait=on_wait)
    try:
        leases.start()
        yield leases
        leases.check()
    finally:
        leases.release()
