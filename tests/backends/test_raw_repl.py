"""The raw REPL protocol against the real MicroPython firmware in QEMU's micro:bit."""

from __future__ import annotations

import os

import pytest

from testbed.backends.raw_repl import RawRepl, ReplError, ReplExecError


def test_exec_returns_the_output(microbit_port: str) -> None:
    with RawRepl(microbit_port) as repl:
        assert repl.exec("print(6 * 7)").strip() == "42"
        assert repl.exec_raw("x = 1") == (b"", b"")
        assert repl.exec("print(x + 1)").strip() == "2"  # globals live across execs


def test_an_exception_comes_back_as_error_output(microbit_port: str) -> None:
    with RawRepl(microbit_port) as repl:
        output, error = repl.exec_raw("print('before')\n1/0")
        assert output == b"before\r\n"
        assert error.startswith(b"Traceback (most recent call last):")
        assert b"ZeroDivisionError" in error
        with pytest.raises(ReplExecError, match=rf"^{microbit_port}: ZeroDivisionError") as info:
            repl.exec("1/0")
        assert info.value.exception.startswith("ZeroDivisionError")
        assert "Traceback" in info.value.traceback
        assert repl.exec("print('still here')").strip() == "still here"


def test_a_timeout_names_the_port_and_the_last_bytes(microbit_port: str) -> None:
    with RawRepl(microbit_port) as repl:
        with pytest.raises(ReplError, match=rf"^{microbit_port}: timed out after 0.5 s waiting "
                                            r"for the end of the output \(0x04\); last bytes: "
                                            r"b'.*OK'$"):
            repl.exec("while True:\n  pass", timeout_s=0.5)
        repl.interrupt()  # Ctrl-C: the board answers again
        assert repl.exec("print(1)").strip() == "1"


def test_files_and_soft_reset(microbit_port: str) -> None:
    with RawRepl(microbit_port) as repl:
        repl.write_file("tbmod.py", "".join(f"v{i} = {i}\n" for i in range(60)))
        assert repl.exec("import tbmod\nprint(tbmod.v59)").strip() == "59"
        repl.soft_reset()
        with pytest.raises(ReplExecError, match="NameError"):
            repl.exec("tbmod")  # a fresh interpreter
        repl.remove_file("tbmod.py")
        assert "tbmod.py" not in repl.exec("import os\nprint(os.listdir())")


def test_code_must_not_hold_ctrl_d(microbit_port: str) -> None:
    with RawRepl(microbit_port) as repl, pytest.raises(ValueError, match="Ctrl-D"):
        repl.exec("print('\x04')")


def test_no_port_is_one_clear_error() -> None:
    with pytest.raises(ReplError, match=r"^/dev/tb-no-such-port: cannot open"):
        with RawRepl("/dev/tb-no-such-port"):
            pass


def test_an_unknown_url_scheme_is_one_clear_error() -> None:
    # lab.yaml accepts any scheme://; pyserial refuses unknown ones with a ValueError
    with pytest.raises(ReplError, match=r"^tb-nosuch://host:1: cannot open: invalid URL, "
                                        r"protocol 'tb-nosuch' not known"), \
            RawRepl("tb-nosuch://host:1"):
        pass


def test_silence_names_the_port() -> None:
    # a pyserial loopback answers nothing a REPL would: the wait for the banner times out
    with pytest.raises(ReplError, match=r"^loop://: timed out after 0.3 s waiting for the raw "
                                        r"REPL banner; last bytes: "):
        with RawRepl("loop://", timeout_s=0.3):
            pass


@pytest.mark.skipif(not os.path.exists("/dev/ttyACM0"),
                    reason="no board on /dev/ttyACM0 (plug in a micro:bit running MicroPython)")
def test_a_real_board_speaks_the_same_protocol() -> None:
    with RawRepl("/dev/ttyACM0") as repl:
        assert repl.exec("import gc\nprint(gc.mem_free() > 0)").strip() == "True"


def test_an_interrupt_mid_write_sends_nothing_more_to_the_board() -> None:
    """Ctrl-C or SIGTERM may cut a chunk half sent: closing the file then would append code to
    it and turn the interrupt into a board SyntaxError. A stand-in `exec` (no board can be
    interrupted mid-chunk on cue) records what would have been sent."""
    sent: list[str] = []

    def exec_(code: str, *, timeout_s: float | None = None) -> str:
        sent.append(code)
        if code.startswith("f.write("):
            raise KeyboardInterrupt
        return ""

    repl = RawRepl("/dev/null")
    repl.exec = exec_  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        repl.write_file("app.py", "x = 1\n" * 100)
    assert sent == ["f=open('app.py','w')", "f.write('" + "x = 1\\n" * 32 + "')"]


def test_a_board_error_mid_write_still_closes_the_file() -> None:
    sent: list[str] = []

    def exec_(code: str, *, timeout_s: float | None = None) -> str:
        sent.append(code)
        if code.startswith("f.write("):
            raise ReplExecError("/dev/null", "Traceback:\nOSError: 28\n")
        return ""

    repl = RawRepl("/dev/null")
    repl.exec = exec_  # type: ignore[method-assign]
    with pytest.raises(ReplExecError):
        repl.write_file("app.py", "x = 1\n")
    assert sent[-1] == "f.close()"
