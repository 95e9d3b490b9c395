"""The plugin's command-line options, read once into `Settings` (stashed on the config).

One group, `testbed`, every option `--` prefixed. A bad --topology, --lab or --variants stops
the session at once with pytest's usage error: one line naming the file, line and column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pytest

from testbed.config.lab import Lab, LabError, load_lab
from testbed.config.topology import Topology, load_topology
from testbed.errors import BadInput
from testbed.experiment.variants import Variant, parse_variants

#: under the rootdir, when --topology is absent (the `testbed` fixture falls back to it)
DEFAULT_TOPOLOGY = Path("topologies") / "default.yaml"
GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


class Backend(StrEnum):
    """Who plays the topology's nodes for `node(...)` and `sniffer`."""

    EMULATED = "emulated"  # network namespaces and the emulated radio medium
    LAB = "lab"  # the --lab file's boards (each board's `node:` says which node it plays)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The options, parsed and checked."""

    topology: Topology | None
    lab: Lab | None
    backend: Backend
    variants: tuple[Variant, ...]
    readings: int
    interval_s: float
    seed: int
    #: seconds a comparison on a lab's boards waits for boards another run holds
    board_wait_s: float
    report_dir: Path | None
    #: where the Markdown job summary goes, and whether to append (GitHub's step summary)
    job_summary: Path | None
    append_summary: bool


SETTINGS = pytest.StashKey[Settings]()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "IoT protocol testbed (emulated 802.15.4 / 6LoWPAN)")
    group.addoption("--topology", metavar="FILE",
                    help="topology YAML the experiment runs on (default: topologies/default.yaml "
                    "under the rootdir)")
    group.addoption("--lab", metavar="FILE",
                    help="lab inventory YAML: the boards `needs_boards` looks for and "
                    "--backend lab uses (e.g. labs/qemu.yaml)")
    group.addoption("--backend", choices=[b.value for b in Backend], default=None,
                    help="who plays the nodes for node(...).exec and sniffer: emulated "
                    "(namespaces) or lab (the --lab boards); default: lab when --lab is "
                    "given, else emulated")
    group.addoption("--variants", metavar="A,B",
                    help="protocol variants the `testbed` experiment runs (default: all): "
                    + ", ".join(v.value for v in Variant))
    group.addoption("--readings", type=int, default=5, help="readings per sensor (default 5)")
    group.addoption("--interval", type=float, default=0.5,
                    help="seconds between readings (default 0.5)")
    group.addoption("--seed", type=int, default=1, help="seed of the radio medium (default 1)")
    group.addoption("--board-wait", type=float, default=60.0, metavar="S",
                    help="a comparison on the --lab boards waits this long for boards another "
                    "run holds, then its tests fail naming the holder and pytest exits 75 "
                    "(default 60)")
    group.addoption("--report-dir", metavar="DIR",
                    help="keep run directories (results.json, captures, logs, report.html, "
                    "tests.json) here; default: pytest's tmp")
    group.addoption("--job-summary", metavar="FILE",
                    help="write a Markdown job summary here at the end (default: append to "
                    "$GITHUB_STEP_SUMMARY when it is set)")


def read_settings(config: pytest.Config) -> Settings:
    """The options as `Settings`; pytest.UsageError (one line, no traceback) on bad input."""
    option = config.getoption
    try:
        variants = parse_variants(option("--variants"))
        path = option("--topology")
        topology = load_topology(path) if path else None
        lab_path = option("--lab")
        lab = load_lab(lab_path) if lab_path else None
    except (BadInput, LabError) as e:  # names file:line:col already
        raise pytest.UsageError(str(e)) from None
    chosen = option("--backend")
    backend = Backend(chosen) if chosen else (Backend.LAB if lab else Backend.EMULATED)
    if backend is Backend.LAB and lab is None:
        raise pytest.UsageError("--backend lab needs --lab FILE (a lab inventory such as "
                                "labs/qemu.yaml)")
    readings, interval = option("--readings"), option("--interval")
    if readings < 1:
        raise pytest.UsageError(f"--readings: expected at least 1 (got {readings})")
    if interval <= 0:
        raise pytest.UsageError(f"--interval: expected seconds > 0 (got {interval})")
    report_dir = option("--report-dir")
    summary = option("--job-summary")
    github = os.environ.get(GITHUB_STEP_SUMMARY)
    return Settings(
        topology=topology, lab=lab, backend=backend, variants=variants, readings=readings,
        interval_s=interval, seed=option("--seed"), board_wait_s=max(0.0, option("--board-wait")),
        report_dir=Path(report_dir) if report_dir else None,
        job_summary=Path(summary) if summary else (Path(github) if github else None),
        append_summary=not summary and bool(github),
    )


def settings_of(config: pytest.Config) -> Settings:
    return config.stash[SETTINGS]
