"""pytest plugin: bring emulated 802.15.4 networks up from a test, and always tear them down.

Options `--topology`, `--seed`, `--report-dir` (issue 01) and `--variants`, `--readings`,
`--interval` (issue 02). Fixtures:

- `topology`: the `--topology` file, loaded;
- `bring_up`: a factory that brings any topology up as an `EmulatedNetwork` for the test;
- `testbed` (session): the comparison experiment. It runs `run_comparison` once, lazily, on
  first use, for the selected variants, and caches the results: `testbed.result(variant)`,
  `testbed.events(variant, node)`, `testbed.frames(variant)`, `testbed.run_dir`;
- `variant`: a test that takes a `variant` argument runs once per selected variant
  (`--variants`, narrowed by `@pytest.mark.variant("coap-get", ...)`);
- `node`: `node("s1")` gives that node's events in the current variant.

Registered under the `pytest11` entry point, so a lab's own suite gets it by installing the
package.

The plugin stays thin: it only turns options into calls of `testbed.experiment` and
`testbed.backends`; it measures nothing itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.backends.emulated import EmulatedNetwork
from testbed.config.topology import Topology, load_topology
from testbed.errors import BadInput, TopologyError
from testbed.experiment.run import Run
from testbed.capture.pcapfile import CapturedFrame, read_frames
from testbed.experiment.nodes import Event, read_events
from testbed.experiment.results import Results, VariantResult, read_results
from testbed.experiment.variants import Variant, parse_variants

BringUp = Callable[..., EmulatedNetwork]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "IoT protocol testbed (emulated 802.15.4 / 6LoWPAN)")
    group.addoption("--topology", metavar="FILE", help="topology YAML for the `topology` fixture")
    group.addoption("--seed", type=int, default=1, help="seed of the radio medium (default 1)")
    group.addoption(
        "--report-dir",
        metavar="DIR",
        help="keep run directories (capture.pcap, radio.csv, logs) here; default: pytest's tmp",
    )
    group.addoption(
        "--variants", metavar="A,B",
        help="protocol variants the `testbed` experiment runs (default: all): "
        + ", ".join(v.value for v in Variant),
    )
    group.addoption("--readings", type=int, default=5, help="readings per sensor (default 5)")
    group.addoption("--interval", type=float, default=0.5,
                    help="seconds between readings (default 0.5)")


TOPOLOGY_KEY = pytest.StashKey[Topology]()
VARIANTS_KEY = pytest.StashKey[tuple[Variant, ...]]()
DEFAULT_TOPOLOGY = Path("topologies") / "default.yaml"  # under rootdir, when --topology is absent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: end-to-end run on the emulated testbed")
    config.addinivalue_line(
        "markers", "variant(*names): run this test only for these protocol variants"
    )
    try:
        config.stash[VARIANTS_KEY] = parse_variants(config.getoption("--variants", default=None))
    except BadInput as e:
        raise pytest.UsageError(str(e)) from None
    path = config.getoption("--topology", default=None)
    if path:
        try:  # a bad file stops the session at once, with one line naming file:line:col
            config.stash[TOPOLOGY_KEY] = load_topology(path)
        except TopologyError as e:
            raise pytest.UsageError(str(e)) from None


@pytest.fixture(scope="session")
def topology(pytestconfig: pytest.Config) -> Topology:
    """The topology given with --topology (skips the test when there is none)."""
    if TOPOLOGY_KEY not in pytestconfig.stash:
        pytest.skip("no --topology given (pass --topology topologies/default.yaml)")
    return pytestconfig.stash[TOPOLOGY_KEY]


@pytest.fixture
def bring_up(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BringUp]:
    """Factory: `net = bring_up(topology_or_path, seed=...)`; torn down when the test ends.

    Skips with the fix when the process lacks CAP_NET_ADMIN.
    """
    if not netns.has_net_admin():
        pytest.skip("the emulated backend needs CAP_NET_ADMIN: run as root (sudo make test)")
    config = request.config
    out = config.getoption("--report-dir") or tmp_path_factory.mktemp("reports")
    with contextlib.ExitStack() as stack:

        def _bring_up(topology: Topology | str | Path, *, seed: int | None = None) -> EmulatedNetwork:
            if not isinstance(topology, Topology):
                topology = load_topology(topology)
            run_seed = config.getoption("--seed") if seed is None else seed
            run = Run.create(
                topology_name=topology.name,
                topology_source=topology.source,
                seed=run_seed,
                out=out,
            )
            return stack.enter_context(EmulatedNetwork.up(topology, run=run, seed=run_seed))

        yield _bring_up


# --- the comparison experiment (issue 02) -----------------------------------------------------


class Experiment:
    """The comparison as tests see it: run once on first use, then read from results.json."""

    def __init__(self, topology: Topology, *, variants: tuple[Variant, ...], readings: int,
                 interval_s: float, seed: int, out: Path) -> None:
        self.topology = topology
        self.variants = variants
        self.readings = readings
        self.interval_s = interval_s
        self.seed = seed
        self.out = out
        self._run_dir: Path | None = None
        self._results: Results | None = None

    @property
    def run_dir(self) -> Path:
        """The run directory (runs the comparison if it has not run yet)."""
        if self._run_dir is None:
            from testbed.experiment.scenario import run_comparison

            self._run_dir = run_comparison(
                self.topology, variants=self.variants, readings=self.readings,
                interval_s=self.interval_s, seed=self.seed, out=self.out,
            )
        return self._run_dir

    @property
    def results(self) -> Results:
        if self._results is None:
            self._results = read_results(self.run_dir)
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

    def frames(self, variant: Variant | str) -> list[CapturedFrame]:
        """Every frame of the variant's capture (data and ACK)."""
        return read_frames(self.directory(variant) / "capture.pcap")

    def sensors(self) -> tuple[str, ...]:
        from testbed.experiment.scenario import sensors_of

        return sensors_of(self.topology)


def _parametrized_by_hand(metafunc: pytest.Metafunc) -> bool:
    """A test's own @pytest.mark.parametrize("variant", ...) wins over the option."""
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "variant" in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise tests taking `variant` over the selected variants (and their marker)."""
    if "variant" not in metafunc.fixturenames or _parametrized_by_hand(metafunc):
        return
    selected = metafunc.config.stash.get(VARIANTS_KEY, tuple(Variant))
    for marker in metafunc.definition.iter_markers("variant"):
        try:
            wanted = parse_variants(list(marker.args))
        except BadInput as e:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {e}") from None
        selected = tuple(v for v in selected if v in wanted)
    metafunc.parametrize("variant", selected, ids=[str(v) for v in selected])


@pytest.fixture(scope="session")
def testbed(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    """The comparison experiment on --topology (default: topologies/default.yaml of the
    rootdir), run once for the selected variants the first time a result is asked for."""
    if not netns.has_net_admin():
        pytest.skip("the emulated backend needs CAP_NET_ADMIN: run as root (sudo make test)")
    if TOPOLOGY_KEY in pytestconfig.stash:
        topo = pytestconfig.stash[TOPOLOGY_KEY]
    elif (pytestconfig.rootpath / DEFAULT_TOPOLOGY).is_file():
        topo = load_topology(pytestconfig.rootpath / DEFAULT_TOPOLOGY)
    else:
        pytest.skip("no --topology given (pass --topology topologies/default.yaml)")
    out = pytestconfig.getoption("--report-dir") or tmp_path_factory.mktemp("compare")
    return Experiment(
        topo, variants=pytestconfig.stash.get(VARIANTS_KEY, tuple(Variant)),
        readings=pytestconfig.getoption("--readings"),
        interval_s=pytestconfig.getoption("--interval"),
        seed=pytestconfig.getoption("--seed"), out=Path(out),
    )


@pytest.fixture
def node(testbed: Experiment, variant: Variant) -> Callable[[str], list[Event]]:
    """`node("s1")`: the events node s1 printed in the current variant."""

    def _events(name: str) -> list[Event]:
        if name not in testbed.topology.nodes:
            raise KeyError(f"no node {name!r} in topology {testbed.topology.name!r}")
        return testbed.events(variant, name)

    return _events
