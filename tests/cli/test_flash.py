"""`testbed flash`: the lab's boards get their firmware; bad lab files and arguments are one
line with status 2, a failed board one line with status 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.backends.qemu import QemuMicrobit
from tests.cli import ROOT, run_cli


#: every CLI this module starts carries it in its environment, and so does any QEMU it boots:
#: other QEMUs on the machine (another test session's) are not ours to count
MARK = f"tb-test-flash-{os.getpid()}"


def our_qemus() -> set[int]:
    """QEMUs started by this module's CLIs (found by MARK: once the CLI has exited, a QEMU
    it left behind is no longer its child)."""
    found = set()
    for pid in subprocess.run(["pgrep", "-x", "qemu-system-arm"], capture_output=True,
                              text=True, check=False).stdout.split():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"TB_TEST_MARK={MARK}".encode() in environ.split(b"\0"):
            found.add(int(pid))
    return found


def cli(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**os.environ, "TB_TEST_MARK": MARK}, **kw)


@pytest.fixture(autouse=True)
def no_leaked_qemu() -> Iterator[None]:
    yield
    assert not our_qemus(), "qemu-system-arm left running"


@pytest.fixture
def tiny_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("def f():\n    return 6 * 7\n")
    (app / "util.py").write_text("NAME = 'tiny'\n")
    return app


needs_qemu = pytest.mark.skipif(QemuMicrobit().missing() is not None,
                                reason=str(QemuMicrobit().missing()))


@needs_qemu
def test_flash_the_qemu_lab_end_to_end_as_json(tiny_app: Path) -> None:
    done = cli("flash", "--lab", "labs/qemu.yaml", "--app", str(tiny_app), "--json")
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)
    assert result["board"] == "qemu1" and result["ok"] and result["verified"]
    assert result["files"] == ["app.py", "util.py"] and result["emulated"]
    assert result["bytes"] == sum(p.stat().st_size for p in tiny_app.iterdir())


@needs_qemu
def test_flash_shows_a_table_with_what_was_verified(tiny_app: Path) -> None:
    done = cli("flash", "--lab", "labs/qemu.yaml", "qemu1", "--app",
                   str(tiny_app / "app.py"))
    assert done.returncode == 0, done.stderr
    row = r"qemu1\s*│ micropython │ /dev/pts/\d+\s*│ app\.py\s*│\s*\d+ │.*verified"
    assert re.search(row, done.stdout), done.stdout


def test_a_bad_lab_file_is_one_line_with_its_place_and_status_2(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: bad\nboards:\n  mb1:\n    platform: micropyton\n    port: /dev/x\n")
    done = cli("flash", "--lab", str(lab), "--app", "nodes/coap-sensor")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line == (f"testbed: {lab}:4:15: boards.mb1.platform: expected one of micropython, "
                    "contiki, sensniff (got 'micropyton'); did you mean 'micropython'?")
    assert done.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (["snifer"], r"labs/desk\.yaml: no board 'snifer'; did you mean 'sniffer'\? \(boards: mb1, "),
    (["mb1"], r"flash: board mb1 runs MicroPython: give the app to deploy with --app"),
    (["sniffer"], r"labs/desk\.yaml: board sniffer: sensniff boards are not flashed"),
    (["mb1", "--app", "no/such/app"], r"no/such/app: no such file to deploy"),
    (["zoul1"], r"labs/desk\.yaml: board zoul1: image .*coap-example-server\.bin not found"),
])
def test_bad_arguments_are_status_2_before_any_board_is_touched(
        args: list[str], message: str) -> None:
    done = cli("flash", "--lab", "labs/desk.yaml", *args)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert re.fullmatch(rf"testbed: {message}.*", line), line


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_failed_boards_exit_1_with_one_line_each_and_the_others_still_flashed(
        tmp_path: Path, as_json: bool) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\x01" * 64)
    (tmp_path / "ok.py").write_text("import shutil, sys\nshutil.copy(sys.argv[1], sys.argv[2])\n")
    (tmp_path / "bad.py").write_text("print('no answer from', __import__('sys').argv[1])\n"
                                     "raise SystemExit(4)\n")
    tty_master, tty_slave = os.openpty()  # a port that exists
    port = os.ttyname(tty_slave)
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "name: bench\nboards:\n"
        f"  cc1: {{platform: contiki, port: {port}, image: fw.bin, "
        f"flasher: [{sys.executable}, bad.py, '{{port}}']}}\n"
        f"  cc2: {{platform: contiki, port: {port}, image: fw.bin, "
        f"flasher: [{sys.executable}, ok.py, '{{image}}', copy.bin]}}\n"
        f"  cc3: {{platform: contiki, port: {tmp_path}/ttyUSB7, image: fw.bin, "
        f"flasher: [{sys.executable}, ok.py, '{{image}}', copy3.bin]}}\n")
    try:
        done = cli("flash", "--lab", str(lab), "--logs", str(tmp_path / "logs"),
                       *(["--json"] if as_json else []))
    finally:
        os.close(tty_master)
        os.close(tty_slave)
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "copy.bin").read_bytes() == image.read_bytes()
    if as_json:
        results = {r["board"]: r for r in json.loads(done.stdout)}
        assert results["cc2"]["ok"] and not results["cc1"]["ok"] and not results["cc3"]["ok"]
    else:
        assert re.search(r"cc1\s*│ contiki .*│ failed", done.stdout)
        assert re.search(r"cc2\s*│ contiki .*│ fw\.bin\s*│\s*64 │.*flashed", done.stdout)
    assert not (tmp_path / "copy3.bin").exists()
    lines = done.stderr.splitlines()
    assert lines == [
        f"testbed: board cc1: {sys.executable} exited with status 4; last lines: "
        f"$ {[sys.executable, 'bad.py', port]!r} | no answer from {port}; "
        f"full log: {tmp_path / 'logs' / 'cc1.log'}",
        f"testbed: board cc3: no contiki board on {tmp_path}/ttyUSB7 (plugged in?)",
    ]


def test_the_example_labs_are_valid() -> None:
    for lab in ("labs/qemu.yaml", "labs/desk.yaml"):
        assert (ROOT / lab).is_file()
        done = cli("flash", "--lab", lab, "no-such-board")
        assert done.returncode == 2 and "no board 'no-such-board'" in done.stderr


def test_a_relative_lab_path_flashes_from_the_lab_files_directory(tmp_path: Path) -> None:
    """`testbed flash --lab labs/l.yaml` run from the lab's parent: the flasher (a real
    program, in the lab file's directory) gets an image path that names the file there."""
    labs = tmp_path / "labs"
    labs.mkdir()
    (labs / "fw.bin").write_bytes(b"\x03" * 32)
    tty_master, tty_slave = os.openpty()  # a port that exists
    port = os.ttyname(tty_slave)
    (labs / "l.yaml").write_text(
        f"name: rel\nboards:\n  cc1: {{platform: contiki, port: {port}, image: fw.bin, "
        f"flasher: [{sys.executable}, -c, 'import shutil,sys; shutil.copy(sys.argv[1], "
        "\"copy.bin\")', '{image}']}\n")
    try:
        done = cli("flash", "--lab", "labs/l.yaml", "--json", cwd=tmp_path)
    finally:
        os.close(tty_master)
        os.close(tty_slave)
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)
    assert result["ok"] and result["bytes"] == 32
    assert (labs / "copy.bin").read_bytes() == b"\x03" * 32  # ran in labs/, found the image
    assert (tmp_path / "reports" / "flash" / "cc1.log").is_file()  # --logs: from the CWD
