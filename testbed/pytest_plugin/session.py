"""The hooks that follow a session's tests: board checks before each test, figures after it,
its outcome into the record, and the run directory's tests.json, report and job summary at
the end. One object per session (registered by pytest_configure), holding its state.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from testbed.errors import BoardBusy
from testbed.experiment.run import remove_stale_runs
from testbed.pytest_plugin import boards, summary
from testbed.pytest_plugin.experiments import SessionState
from testbed.pytest_plugin.options import Backend, Settings
from testbed.pytest_plugin.parametrize import variant_of
from testbed.pytest_plugin.record import attach_headline

#: what makes a session one of ours (then $GITHUB_STEP_SUMMARY gets its section)
PLUGIN_FIXTURES = frozenset({"testbed", "variant", "node", "sniffer", "energy", "memory",
                             "results", "topology", "bring_up"})
PLUGIN_MARKERS = ("variant", "topology", "needs_boards")


#: pytest's exit status when a lab's boards were busy and nothing else failed (EX_TEMPFAIL,
#: as `testbed compare`)
BOARD_BUSY_EXIT = BoardBusy.exit_status


class SessionHooks:
    """pytest hooks bound to one session's settings and state."""

    def __init__(self, settings: Settings, state: SessionState) -> None:
        self.settings = settings
        self.state = state
        self.summary_path: Path | None = None
        #: failed tests (set-up included) whose error was BoardBusy, and any other failures
        self.busy_failures = 0
        self.other_failures = 0

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]
                                      ) -> None:
        self.state.uses_testbed = any(
            set(getattr(item, "fixturenames", ())) & PLUGIN_FIXTURES
            or any(item.get_closest_marker(name) for name in PLUGIN_MARKERS) for item in items)
        if self.state.uses_testbed:
            # Run.create does this too, but under the test's captured output nobody would see it
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            remove_stale_runs(say=lambda line: reporter and reporter.write_line(f"testbed: {line}"))
        boards.mark_skips(items, self.settings.lab,
                          on_lab=self.settings.backend is Backend.LAB)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """The test becomes the current one (which experiment it uses is noted against it)."""
        self.state.current = item.nodeid
        record = self.state.tests[item.nodeid] = summary.new_record(item.nodeid)
        variant = variant_of(item)
        record["variant"] = str(variant) if variant is not None else None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> object:
        """After the test body: its variant's headline figures, if it used the experiment."""
        try:
            return (yield)
        finally:
            experiment = self.state.used.get(item.nodeid)
            variant = variant_of(item)
            if experiment is not None and variant is not None and experiment.ran:
                result = experiment.results.variants.get(str(variant))
                if result is not None:
                    attach_headline(item, result, str(variant),
                                    self.state.units.setdefault(item.nodeid, {}))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.state.current = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        summary.note_report(self.state, report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            self.state.close()  # live networks down (session fixtures are down already)
        finally:
            self.summary_path = summary.finish(self.state, self.settings)
        if (self.busy_failures and not self.other_failures
                and session.exitstatus == pytest.ExitCode.TESTS_FAILED):
            # only because the lab's boards were held by another run: try again later
            # (`testbed compare`'s exit status 75; GitLab: retry: exit_codes: [75]); a real
            # failure beside it keeps pytest's own status, so a retry never hides it
            session.exitstatus = BOARD_BUSY_EXIT

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        if report.failed:
            if call.excinfo is not None and call.excinfo.errisinstance(BoardBusy):
                self.busy_failures += 1
            else:
                self.other_failures += 1

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = summary.terminal_lines(self.state, self.summary_path)
        if lines:
            terminalreporter.write_sep("-", "testbed")
            for line in lines:
                terminalreporter.write_line(line)
