"""Every command's --help carries an example; the top-level help lists the exit statuses."""

from __future__ import annotations

import pytest

from testbed.cli import app, main
from tests.cli import run_cli

COMMANDS = [c.name or c.callback.__name__  # type: ignore[union-attr]
            for c in app.registered_commands]


def test_every_issue_command_is_there() -> None:
    for name in ("compare", "up", "down", "exec", "sniff", "analyze", "flash", "report",
                 "doctor", "clean", "check", "pingall"):
        assert name in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_has_an_example(command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:  # in-process: a subprocess each costs a second
        main([command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Example: testbed " + command in text


def test_top_level_help_lists_exit_statuses_and_examples_of_the_new_commands() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for status in ("0 success", "1 a testbed error", "2 bad input", "130 interrupted"):
        assert status in text
    for example in ("testbed flash --lab labs/desk.yaml", "testbed report reports/",
                    "testbed doctor"):
        assert example in text
