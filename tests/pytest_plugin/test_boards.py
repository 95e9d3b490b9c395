"""needs_boards: a test that needs boards the lab lacks is skipped with the reason and the fix;
one the lab has runs on it (QEMU's micro:bit with the real MicroPython firmware)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.backends.boards import board_missing
from testbed.backends.qemu import QemuMicrobit
from testbed.config.lab import load_lab

REPO = Path(__file__).resolve().parents[2]
QEMU_LAB = (REPO / "labs" / "qemu.yaml").read_text()
NO_PORT = "/dev/ttyTESTBED-ABSENT"
ABSENT_LAB = f"name: desk\nboards:\n  mb1: {{platform: micropython, port: {NO_PORT}, node: s1}}\n"


def test_without_a_lab_the_test_is_skipped_with_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.needs_boards(micropython=1)
        def test_on_a_board():
            raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*test_*.py:3: no --lab given (pass --lab labs/qemu.yaml)"])


def test_a_lab_with_too_few_boards_says_how_many(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", lab=QEMU_LAB)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.needs_boards("micropython", "sensniff")
        def test_with_a_sniffer():
            pass

        @pytest.mark.needs_boards(micropython=2)
        def test_on_two_boards():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-rs", "--lab", "lab.yaml")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines_random([
        "*lab lab.yaml has 0 sensniff boards, the test needs 1 (add one under boards:)",
        "*lab lab.yaml has 1 micropython board, the test needs 2 (add one under boards:)",
    ])


def test_a_board_not_usable_here_gives_the_backends_reason(pytester: pytest.Pytester) -> None:
    path = pytester.makefile(".yaml", lab=ABSENT_LAB)
    reason = board_missing(load_lab(path).boards["mb1"])
    assert reason and NO_PORT in reason
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.needs_boards(micropython=1)
        def test_on_a_board():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-rs", "--lab", "lab.yaml")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*{reason}"])


def test_on_the_emulated_backend_a_board_test_is_skipped(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", lab=QEMU_LAB)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.needs_boards(micropython=1)
        def test_on_a_board():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-rs", "--lab", "lab.yaml", "--backend", "emulated")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs the lab's boards: this session runs --backend emulated"])


@pytest.mark.parametrize(("marker", "expected"), [
    ("micropyton=1", "*needs_boards: unknown platform 'micropyton'; did you mean 'micropython'?*"),
    ("sensniff=0", "*needs_boards: sensniff=0: expected a count of at least 1*"),
])
def test_a_wrong_marker_stops_the_session(pytester: pytest.Pytester, marker, expected) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.needs_boards({marker})
        def test_on_a_board():
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_the_sniffer_of_a_lab_without_one_skips_with_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", lab=QEMU_LAB)
    pytester.makepyfile("def test_sniff(sniffer):\n    raise AssertionError('must not run')\n")
    result = pytester.runpytest_subprocess("-rs", "--lab", "lab.yaml")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*lab lab.yaml has 0 sensniff boards, the sniffer needs 1*"])


@pytest.mark.skipif(bool(QemuMicrobit().missing()), reason=str(QemuMicrobit().missing()))
def test_a_board_test_runs_on_qemus_microbit(pytester: pytest.Pytester) -> None:
    """The lab's board plays s1: its MicroPython runs the code over the raw REPL."""
    pytester.makefile(".yaml", lab=QEMU_LAB)
    pytester.makepyfile(
        """
        import pytest
        from testbed.pytest_plugin import NodeExecError

        @pytest.mark.needs_boards(micropython=1)
        def test_it_computes(node):
            assert node("s1").exec("print(1+1)") == "2\\n"
            assert node("s1").exec("import sys\\nprint(sys.implementation.name)") == "micropython\\n"

        @pytest.mark.needs_boards(micropython=1)
        def test_its_errors_come_back(node):
            with pytest.raises(NodeExecError, match="ZeroDivisionError") as raised:
                node("s1").exec("print('before')\\n1/0")
            assert "Traceback" in raised.value.traceback
            with pytest.raises(TypeError, match="MicroPython code"):
                node("s1").exec(["ls"])

        def test_a_node_no_board_plays(node):
            node("s2").exec("print(1)")
        """
    )
    result = pytester.runpytest_subprocess("-rs", "--lab", "lab.yaml")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*lab lab.yaml has no board playing node 's2' (set `node: s2` "
                                 "on one under boards:)"])
