"""The lab CI jobs in ci/ are what README promises: valid YAML whose pytest command uses only
options the plugin has, on files that exist, and that retries on the busy-boards status."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testbed.pytest_plugin.session import BOARD_BUSY_EXIT

ROOT = Path(__file__).resolve().parents[1]
JOBS = ("gitlab-lab.yml", "github-lab.yml")
ALIASES = {"--junitxml": "--junit-xml"}  # pytest takes both; --help lists the second


def _commands(name: str) -> list[str]:
    data = yaml.safe_load((ROOT / "ci" / name).read_text())
    if name.startswith("gitlab"):
        return list(data["lab-suite"]["script"])
    return [step["run"] for step in data["jobs"]["lab-suite"]["steps"] if "run" in step]


@pytest.fixture(scope="module")
def plugin_options() -> set[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    return set(re.findall(r"(--[a-z][a-z-]+)", done.stdout))


@pytest.mark.parametrize("name", JOBS)
def test_the_job_runs_the_suite_with_options_the_plugin_has(name: str,
                                                            plugin_options: set[str]) -> None:
    (pytest_line,) = [c for c in _commands(name) if "-m pytest" in c]
    argv = shlex.split(pytest_line)
    options = {a.split("=")[0] for a in argv if a.startswith("--")} - {"--preserve-env"}
    options = {ALIASES.get(o, o) for o in options}
    assert options <= plugin_options, options - plugin_options
    for path in ("suites/", argv[argv.index("--lab") + 1]):
        assert (ROOT / path).exists(), path
    assert "make deps contiki" in _commands(name)


def test_gitlab_retries_on_busy_boards_only() -> None:
    job = yaml.safe_load((ROOT / "ci" / "gitlab-lab.yml").read_text())["lab-suite"]
    assert job["retry"]["exit_codes"] == [BOARD_BUSY_EXIT]
    assert job["artifacts"]["reports"]["junit"] in _commands("gitlab-lab.yml")[1]
