"""The Markdown job summary: a file (--job-summary, GitLab's artifact) or GitHub's step summary."""

from __future__ import annotations

import pytest

MIXED = """
import pytest

def test_passes():
    pass

def test_fails():
    assert 1 == 2, "one is not two"

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known")
def test_known_bug():
    raise ValueError

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_setup_error(broken):
    pass
"""
TABLE = "| passed | failed | error | skipped | xfailed | xpassed |"


def test_the_job_summary_file_has_the_tally_and_the_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MIXED)
    result = pytester.runpytest_subprocess("--job-summary", "out/summary.md")
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1, errors=1)
    text = (pytester.path / "out" / "summary.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "## testbed: 1 passed, 1 failed, 1 error, 1 skipped, 1 xfailed"
    assert lines[lines.index(TABLE) + 2] == "| 1 | 1 | 1 | 1 | 1 | 0 |"
    assert "- `test_the_job_summary_file_has_the_tally_and_the_failures.py::test_fails` " \
           "(failed): AssertionError: one is not two" in text
    assert "::test_setup_error` (error): RuntimeError: fixture broke" in text
    result.stdout.fnmatch_lines(["testbed: job summary out/summary.md"])


def test_a_second_session_overwrites_the_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_passes():\n    pass\n")
    pytester.runpytest_subprocess("--job-summary", "summary.md")
    pytester.runpytest_subprocess("--job-summary", "summary.md")
    assert (pytester.path / "summary.md").read_text().count("## testbed:") == 1


def test_on_github_the_summary_is_appended_to_the_step_summary(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    step_summary = pytester.path / "step-summary.md"
    step_summary.write_text("# build\n\nearlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    pytester.makepyfile("def test_passes(results):\n    results.record('x', 1)\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    text = step_summary.read_text()
    assert text.startswith("# build\n\nearlier step output\n")
    assert "## testbed: 1 passed" in text


def test_a_session_that_never_uses_the_testbed_leaves_the_step_summary_alone(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin is loaded in every pytest of the environment; unrelated suites on the same
    GitHub runner must not get a testbed section."""
    step_summary = pytester.path / "step-summary.md"
    step_summary.write_text("# build\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    pytester.makepyfile("def test_passes():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert step_summary.read_text() == "# build\n" and "job summary" not in result.stdout.str()


def test_without_a_target_no_summary_is_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_passes():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "testbed:" not in result.stdout.str()
    assert not list(pytester.path.glob("*.md"))
