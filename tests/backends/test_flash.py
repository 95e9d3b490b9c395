"""Flashers: a MicroPython app deployed to QEMU's micro:bit over the raw REPL and read back; a
Contiki flasher command run as an argv list, never through a shell."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import sys
import textwrap
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from testbed.backends.boards import open_board
from testbed.backends.flash import (
    FLASHERS, CommandFlasher, FlashError, RawReplFlasher, app_files, flasher_for,
    substitute,
)
from testbed.backends.qemu import QemuMicrobit
from testbed.config.lab import Board, BoardPlatform, Lab, parse_lab
from testbed.errors import BadInput
from testbed.backends.raw_repl import RawRepl, text_checksum



QEMU_LAB = parse_lab("name: q\nboards:\n  qemu1: {platform: micropython, "
                     "emulator: qemu-microbit, node: s1}\n")


@pytest.fixture
def qemu_board() -> Board:
    reason = QemuMicrobit().missing()
    if reason:
        pytest.skip(reason)
    return QEMU_LAB.boards["qemu1"]


@pytest.fixture
def tiny_app(tmp_path: Path) -> Path:
    """Two small modules (the micro:bit has ~30 kB of files and a 10 kB heap) and a folder
    that must stay home."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("import helper\n\ndef f():\n    return helper.twice(21)\n")
    (app / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    (app / "tests").mkdir()
    (app / "tests" / "test_app.py").write_text("assert False\n")
    (app / "README.md").write_text("not deployed\n")
    return app


def test_an_app_is_deployed_read_back_and_runs_on_the_board(qemu_board: Board,
                                                            tiny_app: Path) -> None:
    flasher = flasher_for(qemu_board, QEMU_LAB, open_repl=RawRepl)
    assert isinstance(flasher, RawReplFlasher)
    seen: list[tuple[int, int, str]] = []
    with open_board(qemu_board) as port:
        result = flasher.flash(tiny_app, port=port,
                               progress=lambda done, total, name: seen.append((done, total, name)))
        with RawRepl(port) as repl:
            files = repl.exec("import os\nprint(sorted(os.listdir()))")
            value = repl.exec("import app\nprint(app.f())")
    assert files.strip() == "['app.py', 'helper.py']"
    assert value.strip() == "42"
    sizes = {p.name: p.stat().st_size for p in tiny_app.glob("*.py")}
    assert result.files == ("app.py", "helper.py") and result.verified
    assert result.bytes == sum(sizes.values()) and result.port == port
    # per-file progress: never backwards, always out of the same total, ends at the total
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert {t for _, t, _ in seen} == {result.bytes}
    assert seen[-1] == (result.bytes, result.bytes, "helper.py")
    assert (sizes["app.py"], result.bytes, "app.py") in seen
    assert result.to_json()["files"] == ["app.py", "helper.py"]


class ChangedAfterWrite:
    """A real raw-REPL session on the board, except that right after writing `victim` it
    appends one character to it on the board: stands in for a file that changes after its
    own write was checked (a later write, a flash page lost), which only the read-back of
    the whole deployment can notice. Not a mock of the board: every byte goes to QEMU."""

    def __init__(self, repl: RawRepl, victim: str) -> None:
        self.repl, self.victim = repl, victim

    def __enter__(self) -> ChangedAfterWrite:
        self.repl.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.repl.__exit__(kind, exc, tb)

    def exec(self, code: str, *, timeout_s: float | None = None) -> str:
        return self.repl.exec(code, timeout_s=timeout_s)

    def write_file(self, name: str, text: str) -> None:
        self.repl.write_file(name, text)
        if name == self.victim:
            self.repl.exec(f"f=open({name!r},'w')\nf.write({text + '#'!r})\nf.close()")


def test_a_file_changed_on_the_board_fails_the_read_back(qemu_board: Board,
                                                         tiny_app: Path) -> None:
    def opener(port: str, baudrate: int) -> ChangedAfterWrite:
        return ChangedAfterWrite(RawRepl(port, baudrate=baudrate), victim="app.py")

    text = (tiny_app / "app.py").read_text()
    flasher = RawReplFlasher(board=qemu_board, open_repl=opener)
    with open_board(qemu_board) as port, pytest.raises(FlashError) as caught:
        flasher.flash(tiny_app, port=port)
    assert str(caught.value) == (
        f"board qemu1: app.py: read back as {len(text) + 1} characters, checksum "
        f"{text_checksum(text + '#')}, expected {len(text)} characters, checksum "
        f"{text_checksum(text)}")


class NoisyBoard:
    """A ReplSession whose board prints stray lines around the read-back's: stands in for a
    board printing noise (a boot.py's greeting, a driver's debug line), which QEMU's
    micro:bit cannot be made to do on cue. It keeps the files it is given and answers the
    read-back as the board's code would, from what it keeps."""

    NOISE = ("MicroPython v1.22 on micro:bit", "free 4096 bytes", "a b c", "x 1 2 3",
             "app.py twelve 7", "app.py 12", "helper.py -5 -1", "radio: ch 11 on", "")

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write_file(self, name: str, text: str) -> None:
        self.files[name] = text

    def exec(self, code: str, *, timeout_s: float | None = None) -> str:
        names = ast.literal_eval(re.search(r"for _n in (\[.*\]):", code)[1])  # type: ignore[index]
        answers = [f"{n} {len(self.files[n])} {text_checksum(self.files[n])}" if n in self.files
                   else f"{n} -1 0" for n in names]
        lines = [*self.NOISE[:4], *answers, *self.NOISE[4:], "not-deployed.py 3 4"]
        return "\r\n".join(lines) + "\r\n"


def test_noise_around_the_read_back_is_ignored_and_only_deployed_names_count(
        tiny_app: Path) -> None:
    board = Board(name="mb1", platform="micropython", port="/dev/ttyACM0")
    noisy = NoisyBoard()
    result = RawReplFlasher(board=board, open_repl=lambda port, baudrate: noisy).flash(
        tiny_app, port="/dev/ttyACM0")
    assert result.verified and result.files == ("app.py", "helper.py")
    assert noisy.files["app.py"] == (tiny_app / "app.py").read_text()


def test_a_file_the_board_lost_is_found_missing_among_the_noise(tiny_app: Path) -> None:
    class Forgetful(NoisyBoard):
        def write_file(self, name: str, text: str) -> None:
            if name != "helper.py":
                super().write_file(name, text)

    board = Board(name="mb1", platform="micropython", port="/dev/ttyACM0")
    flasher = RawReplFlasher(board=board, open_repl=lambda port, baudrate: Forgetful())
    text = (tiny_app / "helper.py").read_text()
    with pytest.raises(FlashError) as caught:
        flasher.flash(tiny_app, port="/dev/ttyACM0")
    assert str(caught.value) == (f"board mb1: helper.py: read back as absent, expected "
                                 f"{len(text)} characters, checksum {text_checksum(text)}")


def test_a_port_without_a_repl_is_a_flash_error_naming_board_and_file(tiny_app: Path) -> None:
    master, slave = os.openpty()  # a real tty nobody answers on
    try:
        board = Board(name="mb1", platform="micropython", port=os.ttyname(slave))
        flasher = RawReplFlasher(board=board,
                                 open_repl=functools.partial(RawRepl, timeout_s=0.5))
        with pytest.raises(FlashError, match=rf"^board mb1: app\.py: {board.port}: timed out "
                                             r"after 0\.5 s waiting for the raw REPL banner"):
            flasher.flash(tiny_app, port=board.port)
    finally:
        os.close(master)
        os.close(slave)


def test_which_files_an_app_deploys(tiny_app: Path, tmp_path: Path) -> None:
    assert [p.name for p in app_files(tiny_app)] == ["app.py", "helper.py"]
    assert app_files(tiny_app / "app.py") == [tiny_app / "app.py"]
    assert app_files([tiny_app / "helper.py", tiny_app / "README.md"]) == [
        tiny_app / "helper.py", tiny_app / "README.md"]
    with pytest.raises(BadInput, match=r"no such file to deploy"):
        app_files(tmp_path / "none.py")
    with pytest.raises(BadInput, match=r"the board would get two files named 'test_app.py'"):
        other = tmp_path / "test_app.py"
        other.write_text("")
        app_files([tiny_app / "tests" / "test_app.py", other])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInput, match=r"empty: no \.py files to deploy"):
        app_files(empty)
    (tiny_app / "my app.py").write_text("")  # in a directory, or given: refused before I/O
    for given in (tiny_app, tiny_app / "my app.py"):
        with pytest.raises(BadInput, match=r"my app\.py: cannot deploy 'my app\.py': the "
                                           r"board's flat filesystem takes one-word names"):
            app_files(given)


# --- the Contiki flasher: the lab's own command ---------------------------------------------

RECORDER = textwrap.dedent("""\
    import json, os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "argv.json"), "w") as out:
        json.dump({"argv": sys.argv[1:], "cwd": os.getcwd()}, out)
    print("erasing flash")
    print("writing", os.path.getsize(sys.argv[-1]) if os.path.exists(sys.argv[-1]) else 0)
    mode = os.environ.get("TB_FLASHER_MODE", "ok")
    if mode == "fail":
        print("ERROR: no bootloader answer on", sys.argv[2], file=sys.stderr)
        sys.exit(3)
    if mode == "hang":
        with open(os.path.join(here, "pid"), "w") as out:
            out.write(str(os.getpid()))
        import time
        time.sleep(600)
    """)


@pytest.fixture
def contiki(tmp_path: Path) -> tuple[Lab, Path]:
    """A lab file with a Contiki board whose flasher is a real program (a Python script that
    records its argv), and a firmware image whose name is a shell injection attempt."""
    (tmp_path / "recorder.py").write_text(RECORDER)
    image = tmp_path / "fw; touch pwned $(touch pwned2).bin"
    image.write_bytes(b"\x00" * 1000)
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(
        "name: bench\nboards:\n  zoul1:\n    platform: contiki\n    port: /dev/ttyUSB0\n"
        f"    image: '{image.name}'\n"
        f"    flasher: [{sys.executable}, recorder.py, -p, '{{port}}', 'PORT={{port}}', "
        "'{image}']\n")
    from testbed.config.lab import load_lab

    return load_lab(lab_file), image


def test_the_flasher_gets_its_arguments_whole_and_no_shell_sees_them(
        contiki: tuple[Lab, Path], tmp_path: Path) -> None:
    lab, image = contiki
    board = lab.boards["zoul1"]
    flasher = flasher_for(board, lab, log_dir=tmp_path / "logs")
    assert isinstance(flasher, CommandFlasher)
    seen: list[tuple[int, int, str]] = []
    result = flasher.flash(lab.image_path(board), port="/dev/ttyUSB0",
                           progress=lambda *p: seen.append(p))
    recorded = json.loads((tmp_path / "argv.json").read_text())
    assert recorded["argv"] == ["-p", "/dev/ttyUSB0", "PORT=/dev/ttyUSB0", str(image)]
    assert recorded["cwd"] == str(tmp_path)  # relative paths mean what they mean in the lab file
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert seen == [(0, 1000, image.name), (1000, 1000, image.name)]
    assert result.log == tmp_path / "logs" / "zoul1.log" and not result.verified
    assert "erasing flash\nwriting 1000" in result.log.read_text()


def test_a_failing_flasher_names_board_program_status_and_its_last_lines(
        contiki: tuple[Lab, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab, image = contiki
    monkeypatch.setenv("TB_FLASHER_MODE", "fail")
    flasher = flasher_for(lab.boards["zoul1"], lab, log_dir=tmp_path / "logs")
    log = tmp_path / "logs" / "zoul1.log"
    with pytest.raises(FlashError) as caught:
        flasher.flash(image, port="/dev/ttyUSB0")
    argv = [sys.executable, "recorder.py", "-p", "/dev/ttyUSB0", "PORT=/dev/ttyUSB0", str(image)]
    assert str(caught.value) == (
        f"board zoul1: {sys.executable} exited with status 3; last lines: $ {argv!r}"
        " | erasing flash | writing 1000 | ERROR: no bootloader answer on /dev/ttyUSB0; "
        f"full log: {log}")


def test_a_hanging_flasher_is_killed_at_its_timeout(
        contiki: tuple[Lab, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab, image = contiki
    monkeypatch.setenv("TB_FLASHER_MODE", "hang")
    flasher = flasher_for(lab.boards["zoul1"], lab, log_dir=tmp_path / "logs", timeout_s=1.0)
    with pytest.raises(FlashError, match=rf"^board zoul1: {sys.executable} did not finish "
                                         r"within 1 s; last lines: .*writing 1000; full log: "):
        flasher.flash(image, port="/dev/ttyUSB0")
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists()


def test_a_lab_given_by_a_relative_path_flashes_the_image_it_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flasher runs in the lab file's directory; the image it gets must name the file
    there too (it was labs/fw.bin, looked for in labs/labs/fw.bin)."""
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "fw.bin").write_bytes(b"\x02" * 10)
    (tmp_path / "labs" / "l.yaml").write_text(
        "name: l\nboards:\n  cc: {platform: contiki, port: /dev/ttyUSB0, image: fw.bin, "
        f"flasher: [{sys.executable}, -c, 'import shutil,sys; shutil.copy(sys.argv[1], "
        "\"copy.bin\")', '{image}']}\n")
    monkeypatch.chdir(tmp_path)
    from testbed.config.lab import load_lab

    lab = load_lab("labs/l.yaml")
    board = lab.boards["cc"]
    result = flasher_for(board, lab, log_dir=Path("logs")).flash(lab.image_path(board),
                                                                 port="/dev/ttyUSB0")
    assert result.bytes == 10 and result.files == ("fw.bin",)
    assert (tmp_path / "labs" / "copy.bin").read_bytes() == b"\x02" * 10


def test_what_a_finished_flasher_left_running_is_ended(tmp_path: Path) -> None:
    board = Board(name="zoul1", platform="contiki", port="/dev/ttyUSB0",
                  flasher=("sh", "-c", "sleep 60 & echo $! > bg.pid"))
    flasher = CommandFlasher(board=board, argv=board.flasher or (), log=tmp_path / "z.log",
                             cwd=tmp_path)
    flasher.flash(None, port="/dev/ttyUSB0")
    pid = int((tmp_path / "bg.pid").read_text())
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        state = b"gone"
    assert state in (b"gone", b"Z")  # a zombie only waits for init to reap it


def test_a_flasher_program_that_does_not_exist(tmp_path: Path) -> None:
    board = Board(name="zoul1", platform="contiki", port="/dev/ttyUSB0",
                  flasher=("tb-no-such-flasher", "{port}"))
    flasher = CommandFlasher(board=board, argv=board.flasher or (), log=tmp_path / "z.log")
    with pytest.raises(FlashError, match=r"^board zoul1: cannot run 'tb-no-such-flasher': "
                                         r"No such file or directory$"):
        flasher.flash(None, port="/dev/ttyUSB0")


def test_a_missing_image_is_bad_input_before_anything_runs(contiki: tuple[Lab, Path],
                                                           tmp_path: Path) -> None:
    lab, image = contiki
    image.unlink()
    flasher = flasher_for(lab.boards["zoul1"], lab, log_dir=tmp_path / "logs")
    with pytest.raises(BadInput, match=r"lab\.yaml: board zoul1: image .* not found"):
        flasher.flash(image, port="/dev/ttyUSB0")
    assert not (tmp_path / "argv.json").exists()


def test_placeholders_are_replaced_inside_their_argument_only() -> None:
    argv = substitute(("x", "{port}", "--port={port}", "{image}", "{other}", "{{port}}"),
                      image="a b;c", port="rfc2217://h:1")
    assert argv == ["x", "rfc2217://h:1", "--port=rfc2217://h:1", "a b;c", "{other}",
                    "{rfc2217://h:1}"]


def test_the_registry_knows_which_platforms_are_flashed(tmp_path: Path) -> None:
    assert set(FLASHERS) == {BoardPlatform.MICROPYTHON, BoardPlatform.CONTIKI}
    lab = parse_lab("name: l\nboards:\n  sn: {platform: sensniff, port: /dev/x}\n"
                    "  cc: {platform: contiki, port: /dev/y}\n", "lab.yaml")
    with pytest.raises(BadInput, match=r"board sn: sensniff boards are not flashed"):
        flasher_for(lab.boards["sn"], lab)
    with pytest.raises(BadInput, match=r"board cc has no flasher \(add `flasher: "):
        flasher_for(lab.boards["cc"], lab)


def test_an_app_too_big_for_the_board_says_so(qemu_board: Board, tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_text(("# " + "x" * 97 + "\n") * 300)  # 30 kB: more than the micro:bit's files
    flasher = RawReplFlasher(board=qemu_board, open_repl=RawRepl)
    with open_board(qemu_board) as port, pytest.raises(FlashError) as caught:
        flasher.flash(big, port=port)
    assert re.fullmatch(rf"board qemu1: big\.py: {port}: OSError: 28 \(no space left on the "
                        r"board's filesystem\); 0 of 30000 bytes written", str(caught.value))
