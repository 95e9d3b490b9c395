"""Parametrisation: a variant for tests taking `variant`, a topology for tests marked with one.

A test taking `variant` runs once per selected variant (--variants, narrowed by
`@pytest.mark.variant(...)`); a test's own `@pytest.mark.parametrize("variant", ...)` wins.
`@pytest.mark.topology("line.yaml")` gives the test's `testbed` and `topology` that topology
instead of --topology: on the emulated backend the test runs on that topology's own experiment
(made once per session and topology, with the same variants, readings and seed); on the lab
backend, where the lab's boards are the topology, the test is skipped unless it names the
--topology one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.config.topology import Topology, load_topology
from testbed.errors import BadInput
from testbed.experiment.variants import Variant, parse_variants
from testbed.pytest_plugin.experiments import topology_key
from testbed.pytest_plugin.options import DEFAULT_TOPOLOGY, Backend, settings_of

NO_TOPOLOGY = "no --topology given (pass --topology topologies/default.yaml)"


@dataclass(frozen=True, slots=True)
class TopologyChoice:
    """What a test's topology marker resolved to: a topology, or why there is none."""

    topology: Topology | None
    reason: str | None = None

    @property
    def id(self) -> str:
        return self.topology.name if self.topology else "no-topology"


def _parametrized_by_hand(metafunc: pytest.Metafunc, name: str) -> bool:
    """A test's own @pytest.mark.parametrize(name, ...) wins over the plugin's."""
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def resolve_topology(marker: pytest.Mark, test_file: Path, config: pytest.Config
                     ) -> TopologyChoice:
    """The marker's argument: a file (next to the test, under the rootdir, or absolute), or a
    topology name (the --topology one, or topologies/<name>.yaml under the rootdir).
    ValueError (one line, file:line:col for a bad file) when the marker or the file is wrong."""
    if len(marker.args) != 1 or not isinstance(marker.args[0], (str, Path)):
        raise ValueError(f"{test_file}: topology marker: expected one file or name, e.g. "
                         "@pytest.mark.topology('topologies/line.yaml')")
    wanted = str(marker.args[0])
    selected = settings_of(config).topology
    if selected is not None and wanted == selected.name:
        return TopologyChoice(selected)
    candidates = [Path(wanted)] if Path(wanted).is_absolute() else list(dict.fromkeys([
        test_file.parent / wanted, config.rootpath / wanted,
        config.rootpath / "topologies" / f"{wanted}.yaml"]))
    for path in candidates:
        if path.is_file():
            try:
                return TopologyChoice(load_topology(path))
            except BadInput as e:
                raise ValueError(str(e)) from None
    # a typo must turn CI red, not skip quietly: a collection error, as for a bad file
    raise ValueError(f"{test_file}: topology marker: {wanted!r} not found (looked for "
                     f"{', '.join(str(p) for p in candidates)})")


def generate_tests(metafunc: pytest.Metafunc) -> None:
    """Variants for tests taking `variant`; the marker's topology for `testbed`/`topology`."""
    config = metafunc.config
    if "variant" in metafunc.fixturenames and not _parametrized_by_hand(metafunc, "variant"):
        chosen = selected = settings_of(config).variants
        wanted_all: list[str] = []
        for marker in metafunc.definition.iter_markers("variant"):
            try:
                wanted = parse_variants(list(marker.args))
            except BadInput as e:
                raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {e}") from None
            wanted_all += [str(v) for v in wanted]
            selected = tuple(v for v in selected if v in wanted)
        if selected:
            metafunc.parametrize("variant", selected, ids=[str(v) for v in selected])
        else:  # say why, rather than pytest's "got empty parameter set"
            reason = (f"the test is for {', '.join(dict.fromkeys(wanted_all))}; --variants "
                      f"selected {', '.join(map(str, chosen))}")
            metafunc.parametrize("variant", [pytest.param(None, marks=pytest.mark.skip(
                reason=reason))], ids=["not-selected"])
    marker = metafunc.definition.get_closest_marker("topology")
    if marker is None:
        return
    names = [n for n in ("topology", "testbed") if n in metafunc.fixturenames
             and not _parametrized_by_hand(metafunc, n)]
    if names:
        try:
            choice = resolve_topology(marker, Path(str(metafunc.definition.path)), config)
        except ValueError as e:  # a collection error of one line, no traceback
            raise pytest.Collector.CollectError(str(e)) from None
        metafunc.parametrize(names, [tuple(choice for _ in names)], indirect=True,
                             ids=[choice.id], scope="session")


def variant_of(item: pytest.Item, *, strict: bool = False) -> Variant | None:
    """The test's `variant` parameter, if it is a protocol variant. A test of its own may
    name a parameter `variant` for something else: that is no business of the plugin, unless
    the test also asks for a per-variant fixture (`strict`), which then fails in one line."""
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("variant") if callspec else None
    if value is None:
        return None
    try:
        return Variant(str(value))
    except ValueError:
        if not strict:
            return None
        pytest.fail(f"{item.nodeid}: variant {value!r} is no protocol variant (known: "
                    f"{', '.join(Variant)})", pytrace=False)


def topology_for(request: pytest.FixtureRequest, choice: TopologyChoice | None) -> Topology:
    """The marker's topology (skips when the lab backend plays another one), else
    --topology, else topologies/default.yaml under the rootdir."""
    config = request.config
    settings = settings_of(config)
    if choice is None:
        if settings.topology is not None:
            return settings.topology
        if not (config.rootpath / DEFAULT_TOPOLOGY).is_file():
            pytest.skip(NO_TOPOLOGY)
        return load_topology(config.rootpath / DEFAULT_TOPOLOGY)
    if choice.topology is None:
        pytest.skip(choice.reason or "topology not found")
    if settings.backend is Backend.LAB:
        selected = settings.topology
        if selected is None or topology_key(selected) != topology_key(choice.topology):
            pytest.skip(f"needs topology {choice.topology.name!r}; on --backend lab the lab "
                        f"plays {selected.name if selected else 'the --topology one'}: run it "
                        "on the emulated backend or with that --topology")
    return choice.topology


def choice_of(request: pytest.FixtureRequest) -> TopologyChoice | None:
    """The topology marker's choice: the fixture's indirect parameter, or the test's marker."""
    param = getattr(request, "param", None)
    if isinstance(param, TopologyChoice):
        return param
    marker = request.node.get_closest_marker("topology")
    if marker is None:
        return None
    try:
        return resolve_topology(marker, Path(str(request.node.path)), request.config)
    except ValueError as e:
        pytest.fail(str(e), pytrace=False)
