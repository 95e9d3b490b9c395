"""Session hooks: a session that uses the testbed first removes what dead runs left, and
says so where the user reads it (pytest captures the stderr line Run.create would write)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from testbed.backends.processes import ProcessRecord
from testbed.experiment.run import Run, list_runs


@pytest.fixture
def dead_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """A registered run whose owner has exited (as a SIGKILLed `testbed compare` leaves it)."""
    monkeypatch.setenv("TESTBED_REGISTRY", str(tmp_path / "registry"))
    topology = tmp_path / "line.yaml"
    topology.write_text("name: line\n")
    run = Run.create(topology_name="line", topology_source=topology, out=tmp_path / "reports",
                     argv=["testbed", "compare"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run.entry.owner = ProcessRecord(pid=gone.pid, start_time=1, name="owner")
    run.entry.save()
    return run


def test_a_testbed_session_reports_the_stale_run_it_removed(
        pytester: pytest.Pytester, dead_run: Run) -> None:
    pytester.makepyfile("def test_records(results):\n    results.record('x', 1)\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"testbed: removed stale run {dead_run.run_id} of dead pid "
                                 f"{dead_run.entry.owner.pid}: 0 namespaces, 0 processes"])
    assert list_runs() == []


def test_a_session_that_does_not_use_the_testbed_leaves_the_registry_alone(
        pytester: pytest.Pytester, dead_run: Run) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "stale run" not in result.stdout.str()
    assert [entry.run_id for entry in list_runs()] == [dead_run.run_id]
