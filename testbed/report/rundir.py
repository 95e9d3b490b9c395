"""What a report reads from a run directory besides results.json: the manifest, the sinks'
deliveries, the pytest results, the topology and the captures.

Everything here but results.json is optional: a run from an older testbed, an interrupted one,
or one copied without its captures still renders, and `RunFiles.notes` says what was missing
or unreadable (a file that is a directory, a file without read permission).
What it is not: a reader of logs (a report never embeds log contents) nor of the run's
`.private` directory (passwords live there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from testbed.config.topology import Topology, load_topology
from testbed.errors import BadInput, TestbedError
from testbed.experiment.manifest import TOPOLOGY_COPY
from testbed.experiment.results import RESULTS_FILE, Results, read_results
from testbed.services.deliveries import read_deliveries

MANIFEST_FILE = "run.json"
TESTS_FILE = "tests.json"  # the one definition: the pytest plugin writes what this reads
DELIVERIES_FILE = "deliveries.jsonl"


class _Lenient(BaseModel):
    """run.json and tests.json grow with the testbed: a report of an older or newer run must
    still render, so unknown keys are ignored here (not forbidden, as in topology files)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class TopologyRef(_Lenient):
    name: str
    source: str | None = None
    sha256: str | None = None
    # run.json's `copy`: the topology's copy in the run directory (topology.yaml), if made
    copy_file: str | None = Field(default=None, alias="copy")


class Host(_Lenient):
    """The machine, without its name (run directories get shared)."""

    cpu_count: int | None = None


class Manifest(_Lenient):
    """run.json (testbed.experiment.run): what is needed to reproduce the run."""

    run_id: str
    topology: TopologyRef | None = None
    seed: int | None = None
    started: str | None = None
    ended: str | None = None
    testbed_version: str | None = None
    kernel: str | None = None
    python: str | None = None
    argv: tuple[str, ...] = ()
    reproduce: str | None = None  # the command that runs the comparison again
    versions: dict[str, str | None] = {}
    host: Host | None = None


class TestResult(_Lenient):
    """One pytest test merged into the run directory by the plugin (tests.json)."""

    __test__ = False  # not a pytest test class despite the name
    nodeid: str
    outcome: str
    duration_s: float | None = None
    properties: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Capture:
    """A variant's pcap: its link relative to report.html, frames and size on disk."""

    variant: str
    href: str | None  # None: the file is not in the run directory
    name: str
    frames: int
    size_bytes: int | None


@dataclass(frozen=True)
class RunFiles:
    """Everything the report shows, read once."""

    directory: Path
    results: Results
    manifest: Manifest | None
    tests: tuple[TestResult, ...] | None
    topology: Topology | None
    latencies_ms: dict[str, list[float]]
    captures: tuple[Capture, ...]
    notes: list[str] = field(default_factory=list)


def run_directory(path: Path) -> Path:
    """The run directory `path` names: itself, or the directory of a results.json given
    instead (`testbed report reports/<run>/results.json`); BadInput for any other file."""
    path = Path(path)
    if path.is_file():
        if path.name != RESULTS_FILE:
            raise BadInput(f"{path}: not a run directory, nor the {RESULTS_FILE} of one")
        return path.parent
    return path


def read_run(run_dir: Path) -> RunFiles:
    """Read a run directory (or its results.json); BadInput (from read_results) when
    results.json is missing or bad."""
    run_dir = run_directory(run_dir)
    results = read_results(run_dir)
    notes: list[str] = []
    manifest = read_manifest(run_dir, notes)
    return RunFiles(
        directory=run_dir, results=results, manifest=manifest,
        tests=read_tests(run_dir, notes),
        topology=read_topology(run_dir, manifest, notes),
        latencies_ms=read_latencies(run_dir, results, notes),
        captures=tuple(captures(run_dir, results)),
        notes=notes,
    )


def read_manifest(run_dir: Path, notes: list[str]) -> Manifest | None:
    path = run_dir / MANIFEST_FILE
    if not path.exists():
        notes.append(f"{MANIFEST_FILE} is missing: no manifest to show")
        return None
    try:
        return Manifest.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        notes.append(f"{path.name} unreadable ({type(exc).__name__}): manifest not shown")
        return None


def read_tests(run_dir: Path, notes: list[str]) -> tuple[TestResult, ...] | None:
    path = run_dir / TESTS_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return tuple(TestResult.model_validate(t) for t in data)
    except (OSError, ValueError, TypeError, ValidationError) as exc:
        notes.append(f"{path.name} unreadable ({type(exc).__name__}): tests not shown")
        return None


def read_topology(run_dir: Path, manifest: Manifest | None, notes: list[str]) -> Topology | None:
    """The run's copy of its topology, else the manifest's source file if it is unchanged."""
    copy = run_dir / TOPOLOGY_COPY
    ref = manifest.topology if manifest else None
    try:
        if copy.exists():
            path = copy
        elif ref and ref.source and Path(ref.source).is_file():
            path = Path(ref.source)
            if ref.sha256 and hashlib.sha256(path.read_bytes()).hexdigest() != ref.sha256:
                notes.append(f"topology not drawn: {path} changed since the run "
                             "(sha256 differs)")
                return None
        else:
            notes.append(f"topology not drawn: no {TOPOLOGY_COPY} in the run directory and "
                         "the manifest's source file is not there")
            return None
        return load_topology(path)
    except TestbedError as exc:
        notes.append(f"topology not drawn: {exc}")
    except OSError as exc:
        notes.append(f"topology not drawn: {exc.filename or TOPOLOGY_COPY} unreadable "
                     f"({type(exc).__name__})")
    return None


def read_latencies(run_dir: Path, results: Results, notes: list[str]) -> dict[str, list[float]]:
    """Each variant's latencies from its deliveries.jsonl; an unreadable one is a note."""
    found: dict[str, list[float]] = {}
    for name in results.variants:
        if not _plain_name(name):
            continue
        try:
            found[name] = latencies_ms(run_dir / name / DELIVERIES_FILE)
        except OSError as exc:
            notes.append(f"{name}/{DELIVERIES_FILE} unreadable ({type(exc).__name__}): "
                         f"latencies of {name} not shown")
    return found


def latencies_ms(deliveries: Path) -> list[float]:
    """One way latency (t_sink - t_node, ms) of each reading's first delivery, sorted."""
    seen: dict[tuple[str, int], float] = {}
    for d in read_deliveries(deliveries):  # the scenario's reader: a line means the same
        seen.setdefault((d.node, d.seq), (d.t_sink - d.t_node) * 1000.0)
    return sorted(seen.values())


def _plain_name(name: str) -> bool:
    """A variant name that is one path component: its files are inside the run directory."""
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def captures(run_dir: Path, results: Results) -> list[Capture]:
    found = []
    for name, v in results.variants.items():
        if not v.capture:
            continue
        rel = PurePosixPath(v.capture)
        inside = not rel.is_absolute() and ".." not in rel.parts
        path = run_dir / rel if inside else None
        size = path.stat().st_size if path is not None and path.is_file() else None
        found.append(Capture(
            variant=name, href=quote(str(rel)) if size is not None else None, name=str(rel),
            frames=v.air.frames, size_bytes=size,
        ))
    return found


def versions_of(manifest: Manifest | None) -> Mapping[str, str | None]:
    """The manifest's versions, with the testbed's, Python's and the kernel's first."""
    if manifest is None:
        return {}
    base = {"testbed": manifest.testbed_version, "python": manifest.python,
            "kernel": manifest.kernel}
    return {k: v for k, v in {**base, **manifest.versions}.items() if v is not None}
