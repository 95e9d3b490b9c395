"""The experiments and live networks a pytest session shares: one per topology, made lazily.

`Experiment` is the comparison as tests see it: `run_comparison` runs once, on first use, for
the selected variants, then everything is read back from results.json. `Live` keeps one live
emulated network per topology for `node(...).exec` and tears them all down at session end.
`SessionState` is the cross-hook state (on the config's stash): the experiments, the live
networks and which test used which experiment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testbed.backends.emulated import EmulatedNetwork
from testbed.capture.pcapfile import CapturedFrame, read_frames
from testbed.config.lab import Lab
from testbed.config.topology import Topology
from testbed.contiki.build import medium_firmware
from testbed.experiment.nodes import Event, read_events
from testbed.experiment.results import Results, VariantResult, read_results
from testbed.experiment.run import Run
from testbed.experiment.variants import Variant
from testbed.pytest_plugin.energy import Energy


class Experiment:
    """The comparison on one topology: run once on first use, then read from results.json."""

    def __init__(self, topology: Topology, *, variants: tuple[Variant, ...], readings: int,
                 interval_s: float, seed: int, out: Path,
                 on_run: Callable[[Experiment], object] | None = None,
                 on_use: Callable[[Experiment], object] | None = None,
                 lab: Lab | None = None, board_wait_s: float = 0.0) -> None:
        self.topology = topology
        self.board_wait_s = board_wait_s
        #: the lab whose boards play every node (the comparison then runs on them), or None
        self.lab = lab
        self.variants = variants
        self.readings = readings
        self.interval_s = interval_s
        self.seed = seed
        self.out = out
        self._on_run = on_run  # told once, when the run directory exists
        self._on_use = on_use  # told at each use (which test used which experiment)
        self._run_dir: Path | None = None
        self._results: Results | None = None
        #: why the lab's boards could not be had (BoardBusy), once: later tests fail at once
        self.busy: str | None = None

    @property
    def ran(self) -> bool:
        return self._run_dir is not None

    @property
    def made(self) -> Path | None:
        """The run directory if the comparison has run (never runs it)."""
        return self._run_dir

    @property
    def run_id(self) -> str | None:
        """The run id (the run directory's last part) if the comparison has run."""
        return self._run_dir.name.rsplit("-", 1)[-1] if self._run_dir else None

    @property
    def run_dir(self) -> Path:
        """The run directory (runs the comparison if it has not run yet)."""
        if self._on_use is not None:
            self._on_use(self)
        if self._run_dir is None:
            from testbed.errors import BoardBusy
            from testbed.experiment.scenario import run_comparison

            if self.busy is not None:
                raise BoardBusy(self.busy)
            try:
                self._run_dir = run_comparison(
                    self.topology, variants=self.variants, readings=self.readings,
                    interval_s=self.interval_s, seed=self.seed, out=self.out, lab=self.lab,
                    lease_wait_s=self.board_wait_s,
                )
            except BoardBusy as exc:
                self.busy = str(exc)
                raise
            if self._on_run is not None:
                self._on_run(self)
        return self._run_dir

    @property
    def results(self) -> Results:
        if self._results is None:
            self._results = read_results(self.run_dir)
        elif self._on_use is not None:
            self._on_use(self)
        return self._results

    def result(self, variant: Variant | str) -> VariantResult:
        name = str(variant)
        if name not in self.results.variants:
            raise KeyError(f"variant {name!r} did not run (selected: {self.variants})")
        return self.results.variants[name]

    def directory(self, variant: Variant | str) -> Path:
        return self.run_dir / str(variant)

    def events(self, variant: Variant | str, node: str) -> list[Event]:
        """What `node` printed during `variant` (JSON-lines events)."""
        return read_events(self.directory(variant) / "logs" / f"{node}.jsonl")

    def console(self, variant: Variant | str, node: str) -> str:
        """Everything `node` printed during `variant`: its stdout (events), then its stderr."""
        logs = self.directory(variant) / "logs"
        return "".join(p.read_text(errors="replace") for p in
                       (logs / f"{node}.jsonl", logs / f"{node}.err") if p.is_file())

    def frames(self, variant: Variant | str) -> list[CapturedFrame]:
        """Every frame of the variant's capture (data and ACK)."""
        return read_frames(self.directory(variant) / "capture.pcap")

    def energy(self, variant: Variant | str) -> Energy:
        """The variant's energy section; `.under(mode="contikimac", ...)` recomputes it."""
        return Energy(section=self.result(variant).energy, directory=self.directory(variant),
                      sensors=self.sensors(), interval_s=self.interval_s)

    def sensors(self) -> tuple[str, ...]:
        from testbed.experiment.scenario import sensors_of

        return sensors_of(self.topology)


def enter_network(stack: contextlib.ExitStack, topology: Topology, *, seed: int, out: Path
                  ) -> EmulatedNetwork:
    """`topology` brought up in a new run (its directory under `out`); down when `stack`
    closes. The session's live networks and the `bring_up` fixture both make them so."""
    run = Run.create(topology_name=topology.name, topology_source=topology.source, seed=seed,
                     out=out)
    return stack.enter_context(EmulatedNetwork.up(topology, run=run, seed=seed,
                                                   firmware_for=medium_firmware))


def topology_key(topology: Topology) -> str:
    """One experiment per topology file (or per name, for a topology built in memory)."""
    return str(Path(topology.source).resolve()) if topology.source else f"name:{topology.name}"


@dataclass(slots=True)
class SessionState:
    """What the hooks and fixtures of one session share (lives on the config's stash)."""

    experiments: dict[str, Experiment] = field(default_factory=dict)
    live: dict[str, EmulatedNetwork] = field(default_factory=dict)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    #: nodeid of the test running now, and the experiment each test used
    current: str | None = None
    used: dict[str, Experiment] = field(default_factory=dict)
    #: per test: name -> unit of what `results.record` recorded
    units: dict[str, dict[str, str]] = field(default_factory=dict)
    #: per test: {nodeid, outcome, duration_s, variant, properties, ...}, in run order
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what session end wrote per run directory: report paths, or why not
    reports: dict[Path, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: a collected test asks for one of the plugin's fixtures or markers
    uses_testbed: bool = False

    def experiment(self, topology: Topology, make: Callable[[], Experiment]) -> Experiment:
        key = topology_key(topology)
        if key not in self.experiments:
            self.experiments[key] = make()
        return self.experiments[key]

    def mark_used(self, experiment: Experiment) -> None:
        if self.current is not None:
            self.used[self.current] = experiment

    def live_network(self, topology: Topology, *, seed: int, out: Path) -> EmulatedNetwork:
        """The live network on `topology`, brought up on first use, down at session end."""
        key = topology_key(topology)
        if key not in self.live:
            self.live[key] = enter_network(self.stack, topology, seed=seed, out=out)
        return self.live[key]

    def close(self) -> None:
        try:
            self.stack.close()
        finally:
            self.live.clear()


STATE = pytest.StashKey[SessionState]()


def state_of(config: pytest.Config) -> SessionState:
    return config.stash[STATE]


def live_run_ids(config: pytest.Config) -> set[str]:
    """Run ids of the live networks this session keeps up until it ends (a leak guard that
    runs after each test should not count them as leaked)."""
    state = config.stash.get(STATE, None)
    return {net.run_id for net in state.live.values()} if state else set()
