"""Session end: each test's outcome into the run directory, the report, a Markdown job summary.

- `<run>/tests.json`: the tests that used that run's experiment (their `run_id` is the
  run's), in run order: `[{nodeid, outcome, duration_s, variant, run_id, properties: {name:
  value}, units: {name: unit}, message}]`; `outcome` is passed / failed / skipped / error /
  xfailed / xpassed, `message` the skip reason or the failure's one line. A test that used no
  experiment is in no run's tests.json (it says nothing about a run), only in the job summary
  and --junitxml;
- report.html and summary.md re-rendered (testbed.report.render_report) so they show the tests;
  a report that fails to render is a warning line, never a hidden test result;
- the job summary (--job-summary FILE, or appended to $GITHUB_STEP_SUMMARY): a tally of the
  tests, each run's summary.md, and the tests that failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from testbed.jsonlines import write_json_atomic
from testbed.pytest_plugin.experiments import SessionState
from testbed.pytest_plugin.options import Settings

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


# --- outcomes ---------------------------------------------------------------------------------


def _message(report: pytest.TestReport) -> str | None:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0] if crash.message else None
    text = report.longreprtext.strip()
    return text.splitlines()[-1] if text else None


def new_record(nodeid: str) -> dict[str, Any]:
    """A test's record (an element of tests.json) before any of its phases has run."""
    return {"nodeid": nodeid, "outcome": None, "duration_s": 0.0, "variant": None,
            "run_id": None, "properties": {}, "units": {}, "message": None}


def note_report(state: SessionState, report: pytest.TestReport) -> None:
    """Fold one phase's report (setup, call, teardown) into the test's record."""
    record = state.tests.setdefault(report.nodeid, new_record(report.nodeid))
    record["duration_s"] = round(record["duration_s"] + report.duration, 6)
    xfail = hasattr(report, "wasxfail")
    if report.when in ("setup", "call"):
        if report.failed:
            record["outcome"] = "error" if report.when == "setup" else "failed"
        elif report.skipped:
            record["outcome"] = "xfailed" if xfail else "skipped"
        elif report.when == "call":
            record["outcome"] = "xpassed" if xfail else "passed"
        if report.failed or report.skipped:
            record["message"] = _message(report)
    elif report.failed:  # teardown
        record["outcome"] = "error"
        record["message"] = record["message"] or _message(report)
    if report.when == "teardown":
        record["properties"] = dict(report.user_properties)
        record["units"] = dict(state.units.get(report.nodeid, {}))
        used = state.used.get(report.nodeid)
        record["run_id"] = used.run_id if used else None


def tally(tests: Iterable[Mapping[str, Any]]) -> Counter[str]:
    return Counter(str(t["outcome"]) for t in tests if t.get("outcome"))


def tally_line(counts: Mapping[str, int]) -> str:
    shown = [f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o)]
    return ", ".join(shown) or "no tests ran"


# --- session end ------------------------------------------------------------------------------


def runs(state: SessionState) -> list[tuple[Path, str]]:
    """(run directory, run id) of the experiments that ran, in the order they were made."""
    return [(e.made, e.run_id) for e in state.experiments.values()
            if e.made is not None and e.run_id is not None]


def run_dirs(state: SessionState) -> list[Path]:
    """The run directories of the experiments that ran, in the order they were made."""
    return [run_dir for run_dir, _ in runs(state)]


def tests_of(tests: Iterable[Mapping[str, Any]], run_id: str) -> list[Mapping[str, Any]]:
    """The tests that used the run `run_id` (its tests.json), in run order."""
    return [t for t in tests if t.get("run_id") == run_id]


def write_tests(state: SessionState, run_dir: Path, run_id: str) -> Path:
    """The run's tests.json: the tests that used it."""
    from testbed.report.rundir import TESTS_FILE  # at session end: see record.py on why

    return write_json_atomic(run_dir / TESTS_FILE, tests_of(state.tests.values(), run_id))


def render(state: SessionState, run_dir: Path) -> None:
    """report.html and summary.md with the tests; a failure is kept as a warning line."""
    try:
        from testbed.report import render_report

        files = render_report(run_dir)
        state.reports[run_dir] = str(files.html)
    except Exception as e:  # noqa: BLE001 - the report must never hide the tests' results
        state.warnings.append(f"testbed: report of {run_dir} not written: "
                              f"{type(e).__name__}: {e}")


def job_summary(state: SessionState) -> str:
    """The Markdown job summary: tally, each run's summary, failures."""
    tests = list(state.tests.values())
    counts = tally(tests)
    lines = [f"## testbed: {tally_line(counts)}", "",
             "| " + " | ".join(OUTCOMES) + " |", "|" + "---:|" * len(OUTCOMES),
             "| " + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES) + " |", ""]
    for run_dir in run_dirs(state):
        try:
            from testbed.report import summary_markdown

            lines += [summary_markdown(run_dir).rstrip(), ""]
        except Exception as e:  # noqa: BLE001 - say it, keep the tally
            lines += [f"_summary of {run_dir} not available: {type(e).__name__}: {e}_", ""]
    failed = [t for t in tests if t["outcome"] in ("failed", "error")]
    if failed:
        lines += ["### Failed", ""]
        lines += [f"- `{t['nodeid']}` ({t['outcome']}): {t['message'] or ''}".rstrip(": ")
                  for t in failed]
        lines.append("")
    return "\n".join(lines)


def write_job_summary(state: SessionState, settings: Settings) -> Path | None:
    path = settings.job_summary
    if path is None or (settings.append_summary and not state.uses_testbed):
        return None  # $GITHUB_STEP_SUMMARY gets a section only from sessions of the testbed
    text = job_summary(state)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if settings.append_summary else "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as e:
        state.warnings.append(f"testbed: job summary {path} not written: {e}")
        return None
    return path


def finish(state: SessionState, settings: Settings) -> Path | None:
    """tests.json and the report of every run, then the job summary; its path."""
    for run_dir, run_id in runs(state):
        try:
            write_tests(state, run_dir, run_id)
        except OSError as e:
            state.warnings.append(f"testbed: tests.json of {run_dir} not written: {e}")
            continue
        render(state, run_dir)
    return write_job_summary(state, settings)


def terminal_lines(state: SessionState, summary: Path | None) -> list[str]:
    lines = []
    for run_dir in run_dirs(state):
        report = state.reports.get(run_dir)
        lines.append(f"testbed: report {report}" if report else f"testbed: run {run_dir}")
    if summary is not None:
        lines.append(f"testbed: job summary {summary}")
    return lines + state.warnings
