"""pytest plugin: the XMPP-vs-CoAP testbed as fixtures, for this repository's suites and a lab's.

Registered under the `pytest11` entry point (`testbed.pytest_plugin`), so a lab's own suite
gets it by installing the package. It stays thin: options become calls of testbed.experiment,
testbed.backends, testbed.energy and testbed.report; it measures nothing itself.

Options (group "testbed"): --topology FILE, --lab FILE, --backend {emulated,lab} (default: lab
when --lab is given), --variants A,B, --readings N, --interval S, --seed N, --report-dir DIR,
--job-summary FILE. The comparison itself always runs on the emulated testbed (the scenario
runner drives namespaces); the backend decides who answers `node(...).exec` and `sniffer`.

Fixtures:
- `testbed` (session): the comparison experiment, run once lazily for the selected variants:
  `.result(variant)`, `.events(variant, node)`, `.frames(variant)`, `.run_dir`, `.results`;
- `variant`: a test taking it runs once per selected variant (`@pytest.mark.variant(...)`
  narrows it); no test is written twice;
- `node`: `node("s1").events` / `.console` (the test's variant), `.exec(...)` (now, on the
  backend: argv lists or MicroPython code; see nodes.py);
- `sniffer`: the variant's captured frames (emulated), the lab's sensniff board (lab);
- `energy`: the variant's energy section, `.under(profile=..., mode=...)` for other settings;
- `memory`: the run's memory section (bytecode, heap per app);
- `results`: `results.record(name, value, unit=...)`, a figure in --junitxml and tests.json;
- `topology` and `bring_up`: the --topology file; bring any topology up for one test.

Markers: `variant(*names)`, `topology(file_or_name)` (parametrize.py says what it does on each
backend), `needs_boards(platform=count, ...)` (skips with the reason when the lab lacks them).

At session end: `<run>/tests.json`, report.html and summary.md re-rendered with the tests,
the Markdown job summary (--job-summary or $GITHUB_STEP_SUMMARY), and in --junitxml each
variant test's headline figures and the run's id, topology, seed and directory.

Modules: options.py (options -> Settings), parametrize.py (variant and topology), fixtures.py,
experiments.py (the session's experiments and live networks), nodes.py (`node`), energy.py,
record.py (figures on tests), boards.py (needs_boards), session.py (per-test hooks),
summary.py (tests.json, report, job summary).
"""

from __future__ import annotations

import pytest

from testbed.pytest_plugin.experiments import (
    STATE, Experiment, SessionState, live_run_ids, state_of,
)
from testbed.pytest_plugin.fixtures import (
    bring_up, energy, memory, node, results, sniffer, testbed, topology,
)
from testbed.pytest_plugin.nodes import Node, NodeExecError
from testbed.pytest_plugin.options import SETTINGS, add_options, read_settings
from testbed.pytest_plugin.parametrize import generate_tests
from testbed.pytest_plugin.session import SessionHooks

__all__ = [
    "Experiment", "Node", "NodeExecError", "bring_up", "energy", "live_run_ids", "memory",
    "node", "results", "sniffer", "state_of", "testbed", "topology",
]

MARKERS = (
    "slow: end-to-end run on the emulated testbed",
    "variant(*names): run this test only for these protocol variants",
    "topology(file_or_name): run this test on that topology's own experiment (emulated "
    "backend); skip it on --backend lab unless it is the --topology one",
    "needs_boards(*platforms, **counts): skip unless the --lab file has these boards, usable "
    "here, e.g. needs_boards(micropython=1) or needs_boards('micropython', 'sensniff')",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    settings = read_settings(config)
    config.stash[SETTINGS] = settings
    config.stash[STATE] = state = SessionState()
    config.pluginmanager.register(SessionHooks(settings, state), "testbed-session")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    generate_tests(metafunc)
