"""The fixtures: thin, each one option or one call of testbed.experiment, testbed.backends or
testbed.energy away. Which variant and topology a test gets is parametrize.py's job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.backends import netns
from testbed.backends.emulated import EmulatedNetwork
from testbed.capture.pcapfile import CapturedFrame
from testbed.config.lab import Lab
from testbed.config.topology import Topology, load_topology
from testbed.experiment.variants import Variant
from testbed.pytest_plugin.energy import Energy
from testbed.pytest_plugin.experiments import Experiment, enter_network, state_of
from testbed.pytest_plugin.nodes import EmulatedRunner, LabRunner, Node
from testbed.pytest_plugin.options import Backend, Settings, settings_of
from testbed.pytest_plugin.parametrize import choice_of, topology_for, variant_of
from testbed.pytest_plugin.record import Recorder

BringUp = Callable[..., EmulatedNetwork]
NEEDS_ROOT = "the emulated backend needs CAP_NET_ADMIN: run as root (sudo make test)"


# --- the network and the experiment -----------------------------------------------------------


def _out(config: pytest.Config, factory: pytest.TempPathFactory, name: str) -> Path:
    report_dir = settings_of(config).report_dir
    return Path(report_dir) if report_dir else factory.mktemp(name)


@pytest.fixture(scope="session")
def topology(request: pytest.FixtureRequest) -> Topology:
    """The test's topology marker, else --topology, else topologies/default.yaml under the
    rootdir (as the `testbed` experiment uses); skips with the fix when there is none."""
    return topology_for(request, choice_of(request))


@pytest.fixture
def bring_up(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[BringUp]:
    """Factory: `net = bring_up(topology_or_path, seed=...)`; torn down when the test ends.

    Skips with the fix when the process lacks CAP_NET_ADMIN.
    """
    if not netns.has_net_admin():
        pytest.skip(NEEDS_ROOT)
    config = request.config
    out = _out(config, tmp_path_factory, "reports")
    with contextlib.ExitStack() as stack:

        def _bring_up(topology: Topology | str | Path, *, seed: int | None = None
                      ) -> EmulatedNetwork:
            if not isinstance(topology, Topology):
                topology = load_topology(topology)
            return enter_network(stack, topology, out=out,
                                 seed=settings_of(config).seed if seed is None else seed)

        yield _bring_up


def _experiment(request: pytest.FixtureRequest, topo: Topology) -> Experiment:
    """The session's experiment on `topo` (made on first ask; runs on first use)."""
    if not netns.has_net_admin():
        pytest.skip(NEEDS_ROOT)
    config = request.config
    settings = settings_of(config)
    state = state_of(config)
    record = request.getfixturevalue("record_testsuite_property")
    factory = request.getfixturevalue("tmp_path_factory")

    def ran(experiment: Experiment) -> None:  # the testsuite's properties in --junitxml
        for name, value in (("run_id", experiment.run_id), ("topology", experiment.topology.name),
                            ("seed", experiment.seed), ("run_dir", experiment.made)):
            record(name, str(value))

    return state.experiment(topo, lambda: Experiment(
        topo, variants=settings.variants, readings=settings.readings,
        interval_s=settings.interval_s, seed=settings.seed,
        out=_out(config, factory, "compare"), on_run=ran, on_use=state.mark_used,
        lab=lab_pan(settings, topo), board_wait_s=settings.board_wait_s))


def lab_pan(settings: Settings, topo: Topology) -> Lab | None:
    """The --lab file when the comparison runs on its boards: --backend lab and a contiki
    board for every node of the topology (labs/native.yaml, a lab of Contiki boards); None
    when no contiki board plays a node of it: the comparison runs on the emulated testbed
    while the boards answer `node` and `sniffer` (labs/qemu.yaml's micro:bit plays one node).
    Contiki boards for some nodes only: BadInput naming the first node without one (a typo
    in `node:` must not turn a lab run into an emulated one)."""
    from testbed.backends.lab import check_lab_plays

    if settings.backend is not Backend.LAB or settings.lab is None:
        return None
    played = {b.node for b in settings.lab.by_platform("contiki") if b.node in topo.nodes}
    if not played:
        return None
    check_lab_plays(settings.lab, topo.on_platform("contiki"))  # some but not all: say which
    return settings.lab


@pytest.fixture(scope="session")
def testbed(request: pytest.FixtureRequest) -> Experiment:
    """The comparison experiment on --topology (default: topologies/default.yaml of the
    rootdir; a topology marker's own), run once for the selected variants the first time a
    result is asked for: `testbed.result(variant)`, `.events(variant, node)`,
    `.frames(variant)`, `.run_dir`, `.results`."""
    return _experiment(request, topology_for(request, choice_of(request)))


def experiment_of(request: pytest.FixtureRequest) -> Experiment:
    """The test's experiment, for fixtures that need it only sometimes (node, sniffer)."""
    if "testbed" in request.fixturenames:
        return request.getfixturevalue("testbed")
    return _experiment(request, topology_for(request, choice_of(request)))


# --- per test ---------------------------------------------------------------------------------


def _need_variant(request: pytest.FixtureRequest, what: str) -> Variant:
    variant = variant_of(request.node, strict=True)
    if variant is None:
        pytest.fail(f"{what} is per protocol variant: give the test a `variant` argument "
                    f"(def test_...({what}, variant))", pytrace=False)
    return variant


@pytest.fixture
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Callable[[str], Node]]:
    """`node("s1")`: that node in this test: `.events`, `.console` (the test's variant),
    `.exec(...)` (now, on the --backend); see testbed/pytest_plugin/nodes.py."""
    config = request.config
    settings = settings_of(config)
    state = state_of(config)
    variant = variant_of(request.node, strict=True)

    def experiment() -> Experiment:
        return experiment_of(request)

    with contextlib.ExitStack() as stack:
        if settings.backend is Backend.LAB:
            runner: Any = LabRunner(settings.lab, stack)
        else:
            def network() -> EmulatedNetwork:
                topo = experiment().topology
                return state.live_network(topo, seed=settings.seed,
                                          out=_out(config, tmp_path_factory, "live"))

            runner = EmulatedRunner(network)

        def _node(name: str) -> Node:
            if settings.backend is Backend.EMULATED:
                topo = experiment().topology
                if name not in topo.nodes:
                    raise KeyError(f"no node {name!r} in topology {topo.name!r} (nodes: "
                                   f"{', '.join(topo.nodes)})")
            return Node(name, experiment=experiment, variant=variant, runner=runner)

        yield _node


@pytest.fixture
def sniffer(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Emulated backend, or a comparison on the lab's boards: every frame of the test's
    variant's capture (the sniffer board's, on a lab), a list of CapturedFrame. Lab backend
    otherwise: the lab's sensniff board as a live, open SensniffSource."""
    settings = settings_of(request.config)
    on_boards = (settings.lab is not None and bool(settings.lab.by_platform("contiki"))
                 and lab_pan(settings, topology_for(request, choice_of(request))) is not None)
    if settings.backend is Backend.EMULATED or on_boards:
        variant = _need_variant(request, "sniffer")
        frames: list[CapturedFrame] = experiment_of(request).frames(variant)
        yield frames
        return
    from testbed.backends.boards import board_missing, open_board
    from testbed.capture.serial_source import SensniffSource
    from testbed.config.lab import BoardPlatform

    lab = settings.lab
    boards = lab.by_platform(BoardPlatform.SENSNIFF)
    usable = [b for b in boards if not board_missing(b)]
    if not usable:
        pytest.skip(board_missing(boards[0]) if boards else
                    f"lab {lab.source} has 0 sensniff boards, the sniffer needs 1 (add one "
                    "under boards:)")
    board = usable[0]
    with open_board(board) as port, SensniffSource(port, board.baudrate) as source:
        if board.channel is not None:
            source.set_channel(board.channel)
        yield source


@pytest.fixture
def energy(testbed: Experiment, variant: Variant) -> Energy:
    """The variant's energy section; `energy.under(profile=..., mode=...)` recomputes it."""
    figures = testbed.energy(variant)
    error = testbed.result(variant).error
    if error:  # a failed variant is a failure, not a skip
        pytest.fail(f"{variant}: the variant failed, so it has no energy figures: {error}",
                    pytrace=False)
    if "per_reading_mj" not in figures:
        pytest.skip(f"{variant}: no energy figures in this run "
                    f"({figures.get('error', 'no radio log')})")
    return figures


@pytest.fixture
def memory(testbed: Experiment) -> dict[str, Any]:
    """The run's memory section: per app {bytecode_bytes, source_bytes, modules, heap, elf}."""
    section = testbed.results.memory
    if not section:
        pytest.skip("this run measured no memory (interrupted before the end?)")
    return section


@pytest.fixture
def results(request: pytest.FixtureRequest) -> Recorder:
    """`results.record("s1_readings", 4, unit="readings")`: a figure of this test, in
    --junitxml (a property) and in the run directory's tests.json."""
    units = state_of(request.config).units.setdefault(request.node.nodeid, {})
    return Recorder(request.node, units)
