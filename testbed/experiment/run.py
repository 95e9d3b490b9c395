"""One run of the testbed: its id, its directory, its manifest and its registry entry.

A run owns a directory `reports/<YYYYmmdd-HHMMSS>-<run_id>/` (with `logs/` and the
`run.json` manifest) and, while it is up, an entry in the registry of live runs
(`/run/testbed/<run_id>.json`). The entry says what the run created, and it is written
*before* each thing is created, so that whatever kills the run, `testbed clean` can remove
exactly what the run made and nothing else (Mininet's `mn -c` removes by name pattern; we do
not).

Processes are recorded with their start time (field 22 of `/proc/<pid>/stat`): a pid that
the kernel has recycled for another process has another start time, and is never signalled.

This module does not create namespaces or processes itself; backends do, and call
`Run.record_netns` / `Run.record_pid` first.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testbed.backends.emulated import Removed, remove_created
from testbed.backends.processes import ProcessRecord
from testbed.errors import NetworkError, TestbedError
from testbed.experiment.manifest import new_manifest
from testbed.jsonlines import write_json_atomic

__all__ = [
    "RegistryEntry",
    "Run",
    "find_run",
    "list_runs",
    "load_entry",
    "new_run_id",
    "private_dir_of",
    "registry_dir",
    "remove_dead_run",
    "remove_entry",
    "remove_stale_runs",
]

#: Where live runs are registered; `TESTBED_REGISTRY` overrides it (tests, unprivileged mode).
DEFAULT_REGISTRY_DIR = Path("/run/testbed")
REGISTRY_ENV = "TESTBED_REGISTRY"


def registry_dir(base: str | Path | None = None) -> Path:
    """The registry directory: `base`, else $TESTBED_REGISTRY, else /run/testbed."""
    if base is not None:
        return Path(base)
    return Path(os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY_DIR)


RUN_ID = re.compile(r"[0-9a-f]{6}")


def new_run_id() -> str:
    """Six random hex characters: short enough for 15-character interface names."""
    return secrets.token_hex(3)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).astimezone()


# --- registry ---------------------------------------------------------------------------------


@dataclass(slots=True)
class RegistryEntry:
    """What one run created, as written in `<registry>/<run_id>.json`."""

    run_id: str
    owner: ProcessRecord
    directory: Path
    path: Path
    netns: list[str] = field(default_factory=list)
    pids: list[ProcessRecord] = field(default_factory=list)
    nodes: dict[str, str] = field(default_factory=dict)  # node name -> netns name

    def owner_alive(self) -> bool:
        """True while the process that brought the run up is still running."""
        return self.owner.alive()

    def to_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "owner": self.owner.to_json(),
            "directory": str(self.directory),
            "netns": list(self.netns),
            "pids": [p.to_json() for p in self.pids],
            "nodes": dict(self.nodes),
        }

    @classmethod
    def from_json(cls, data: dict[str, object], path: Path) -> RegistryEntry:
        run_id = str(data["run_id"])
        ours = re.compile(rf"tb-{re.escape(run_id)}-[a-z0-9-]+")
        for name in data.get("netns", []):  # type: ignore[union-attr]
            if not RUN_ID.fullmatch(run_id) or not ours.fullmatch(str(name)):
                # `clean` deletes what an entry lists: never a name that is not a run's own
                raise NetworkError(f"{path}: namespace {name!r} is not one of run {run_id!r}'s")
        return cls(
            run_id=str(data["run_id"]),
            owner=ProcessRecord.from_json(data["owner"]),  # type: ignore[arg-type]
            directory=Path(str(data["directory"])),
            path=path,
            netns=[str(n) for n in data.get("netns", [])],  # type: ignore[union-attr]
            pids=[ProcessRecord.from_json(p) for p in data.get("pids", [])],  # type: ignore[union-attr]
            nodes={str(k): str(v) for k, v in dict(data.get("nodes", {})).items()},  # type: ignore[arg-type]
        )

    def save(self) -> None:
        """Write the entry atomically (a reader never sees half a file)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, self.to_json())
        except OSError as exc:
            raise NetworkError(
                f"cannot write the run registry {self.path}: {exc.strerror} (needs root, or "
                f"set ${REGISTRY_ENV} to a writable directory)"
            ) from exc


def load_entry(path: Path) -> RegistryEntry:
    """Read one registry file; a damaged file is a NetworkError naming it."""
    try:
        return RegistryEntry.from_json(json.loads(path.read_text()), path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NetworkError(f"{path}: unreadable registry entry ({exc})") from exc


def list_runs(base: str | Path | None = None) -> list[RegistryEntry]:
    """Every registered run (live or left over by a killed process), oldest file first."""
    directory = registry_dir(base)
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
    entries = []
    for path in paths:
        try:
            entries.append(load_entry(path))
        except NetworkError:
            continue  # half-removed or foreign file: `clean` reports it, listing skips it
    return entries


def find_run(
    run_id: str | None = None, base: str | Path | None = None, *, or_dead: bool = False
) -> RegistryEntry:
    """The run `run_id`, or, without one, *the* live run (an error unless exactly one is up).

    With `or_dead` and no live run, the one registered run whose owner died will do (what
    `testbed down` wants after a `testbed up` was killed).
    """
    entries = list_runs(base)
    if run_id is not None:
        for entry in entries:
            if entry.run_id == run_id:
                return entry
        raise TestbedError(f"no run {run_id!r} in {registry_dir(base)} (see `testbed up`)")
    live = [e for e in entries if e.owner_alive()]
    if not live and or_dead and len(entries) == 1:
        return entries[0]
    if not live:
        dead = f"; {len(entries)} dead runs: see `testbed clean`" if entries else ""
        raise TestbedError(
            f"no live run in {registry_dir(base)} (start one with `testbed up`){dead}"
        )
    if len(live) > 1:
        ids = ", ".join(e.run_id for e in live)
        raise TestbedError(f"{len(live)} live runs ({ids}): choose one with --run ID")
    return live[0]


def private_dir_of(entry: RegistryEntry) -> Path:
    """`<registry>/<run_id>.private/`: the run's secrets (prosody's account store, the nodes'
    CONFIG.json), on /run's tmpfs, never in the run directory."""
    return entry.path.with_suffix(".private")


def remove_entry(entry: RegistryEntry) -> None:
    """Forget a run (after everything it lists is gone), and its secrets with it."""
    shutil.rmtree(private_dir_of(entry), ignore_errors=True)
    entry.path.unlink(missing_ok=True)


def remove_dead_run(entry: RegistryEntry) -> Removed | None:
    """Remove exactly what the run of a dead owner lists, then its entry, unless one of its
    namespaces would not go (the entry is how the next try finds it). `testbed clean`,
    `testbed down` and every new run's clean-up are this one function.

    Two of them may find the same dead run at once (sessions starting together, a run and
    `testbed clean`): the entry file's lock lets one remove it while the other waits, then
    finds it gone and returns None, so a run is removed and reported once."""
    try:
        fd = os.open(entry.path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        _lock(fd, entry)  # released with the descriptor
        if os.fstat(fd).st_nlink == 0:  # the one before us removed the run
            return None
        removed = remove_created(entry.netns, entry.pids)
        if not removed.left:
            remove_entry(entry)
        return removed
    finally:
        os.close(fd)


def _lock(fd: int, entry: RegistryEntry, timeout_s: float = 30.0) -> None:
    """flock(2) the entry, waiting at most `timeout_s` for another remover (a blocking flock
    would hang this run behind a remover stuck in the kernel)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise NetworkError(f"{entry.path}: another process has been removing run "
                                   f"{entry.run_id} for {timeout_s:g} s") from None
            time.sleep(0.05)


def remove_stale_runs(
    base: str | Path | None = None, *, say: Callable[[str], object] = lambda line: None
) -> list[str]:
    """Remove what runs whose owner died left behind (exactly what their entries list), and
    `say` one line per run: what a SIGKILL leaves is namespaces (the kernel killed the
    children, see testbed.backends.processes), and the next run removes them first."""
    lines = []
    for entry in list_runs(base):
        if entry.owner_alive():
            continue
        try:
            removed = remove_dead_run(entry)
        except (OSError, TestbedError) as exc:
            lines.append(f"stale run {entry.run_id} of dead pid {entry.owner.pid}: not removed "
                         f"({exc}); see `testbed clean`")
            say(lines[-1])
            continue
        if removed is None:  # another process removed it and says so
            continue
        line = (f"removed stale run {entry.run_id} of dead pid {entry.owner.pid}: "
                f"{len(removed.netns)} namespaces, {len(removed.processes)} processes")
        if removed.left:
            line += f"; still there: {', '.join(removed.left)} (see `testbed clean`)"
        lines.append(line)
        say(line)
    return lines


def _to_stderr(line: str) -> None:
    print(f"testbed: {line}", file=sys.stderr, flush=True)


# --- the run ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """A run directory with its manifest, and the run's entry in the registry of live runs.

    Create one with `Run.create(...)`; `Run.finish()` writes the end time. Backends call
    `record_netns`, `record_nodes` and `record_pid` *before* (for pids: right after) they
    create things, and `Run.close()` removes the registry entry once all of it is gone.
    """

    run_id: str
    directory: Path
    entry: RegistryEntry
    manifest: dict[str, object]

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def manifest_path(self) -> Path:
        return self.directory / "run.json"

    @classmethod
    def create(
        cls,
        *,
        topology_name: str,
        topology_source: str | Path | None = None,
        seed: int = 1,
        out: str | Path = "reports",
        registry: str | Path | None = None,
        argv: Sequence[str] | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Make the run directory, write run.json (with a copy of the topology file, see
        testbed.experiment.manifest) and register the run (owner: this process), after
        removing the leftovers of runs whose owner died (one line each on stderr)."""
        remove_stale_runs(registry, say=_to_stderr)
        run_id = run_id or new_run_id()
        started = _now()
        directory = Path(out).resolve() / f"{started:%Y%m%d-%H%M%S}-{run_id}"
        (directory / "logs").mkdir(parents=True, exist_ok=False)
        manifest = new_manifest(
            run_id=run_id, directory=directory, topology_name=topology_name,
            topology_source=topology_source, seed=seed, started=started,
            argv=argv if argv is not None else sys.argv,
        )
        entry = RegistryEntry(
            run_id=run_id,
            owner=ProcessRecord.of(os.getpid(), "owner"),
            directory=directory,
            path=registry_dir(registry) / f"{run_id}.json",
        )
        run = cls(run_id=run_id, directory=directory, entry=entry, manifest=manifest)
        run._write_manifest()
        entry.save()
        return run

    def _write_manifest(self) -> None:
        self.manifest_path.write_text(json.dumps(self.manifest, indent=2) + "\n")

    def record_netns(self, names: Iterable[str]) -> None:
        """Register namespaces about to be created."""
        for name in names:
            if name not in self.entry.netns:
                self.entry.netns.append(name)
        self.entry.save()

    def record_nodes(self, nodes: dict[str, str]) -> None:
        """Register node name -> netns (what `testbed exec NODE` looks up)."""
        self.entry.nodes.update(nodes)
        self.entry.save()

    def record_pid(self, pid: int, name: str = "") -> ProcessRecord:
        """Register a process the run started (with its start time)."""
        record = ProcessRecord.of(pid, name)
        self.entry.pids.append(record)
        self.entry.save()
        return record

    @property
    def private_dir(self) -> Path:
        """Where this run keeps secrets (mode 0700, next to its registry entry): whatever kills
        the run, `testbed clean` removes them with the entry; they never reach reports/."""
        path = private_dir_of(self.entry)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        """Remove the registry entry: call once everything it lists is gone."""
        remove_entry(self.entry)

    def annotate(self, **fields: object) -> None:
        """Add facts about the run to run.json (e.g. the platform its nodes run)."""
        self.manifest.update(fields)
        self._write_manifest()

    def finish(self) -> None:
        """Write the end time into run.json."""
        self.manifest["ended"] = _now().isoformat(timespec="seconds")
        self._write_manifest()
