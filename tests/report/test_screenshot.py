"""screenshot.py: chromium photographs a report into a real PNG of the asked size; a missing
or hanging chromium is a clear error and leaves no process behind."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from testbed.report import render_report
from testbed.report.screenshot import PNG_SIGNATURE, ScreenshotError, screenshot

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="needs chromium: apt-get install chromium")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@needs_chromium
def test_a_png_of_the_report(synthetic_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    png = screenshot(render_report(synthetic_run).html, tmp_path / "shot" / "report.png",
                     width=900, height=700)
    assert png == tmp_path / "shot" / "report.png"
    assert _png_size(png) == (900, 700)
    assert 10_000 < png.stat().st_size < 1_000_000
    with Image.open(png) as image:  # something was drawn, not a blank page
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50


@needs_chromium
def test_the_module_renders_and_photographs_a_run(synthetic_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "readme.png"
    done = subprocess.run([sys.executable, "-m", "testbed.report.screenshot", str(synthetic_run),
                           str(out), "--width", "640", "--height", "480"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (synthetic_run / "report.html").exists() and _png_size(out) == (640, 480)
    assert out.read_bytes()[25] == 3  # IHDR colour type 3: the README picture has a palette
    bad = subprocess.run([sys.executable, "-m", "testbed.report.screenshot", str(tmp_path / "no"),
                          str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not a results.json" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_missing_chromium_says_what_to_install(synthetic_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ScreenshotError, match="install the Debian package chromium"):
        screenshot(synthetic_run / "results.json", tmp_path / "x.png",
                   chromium="no-such-chromium-here")


def test_a_chromium_that_cannot_be_started_says_what_to_install(
        synthetic_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An executable file that is no program (exec format error): Popen raises OSError."""
    broken = tmp_path / "chromium"
    broken.write_bytes(b"\x00\x01 not an ELF, no #! line")
    broken.chmod(0o755)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the profile goes
    with pytest.raises(ScreenshotError, match=r"cannot be started \(Exec format error\): "
                                              r"install the Debian package chromium"):
        screenshot(synthetic_run / "results.json", tmp_path / "x.png", chromium=str(broken))
    assert list((tmp_path / "tmp").iterdir()) == []  # the profile was removed


def test_a_hanging_chromium_is_killed_with_its_children(
        synthetic_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for chromium (a shell script that never finishes and has a child), because
    a real chromium cannot be made to hang on demand; what is tested is screenshot()'s own
    timeout and clean-up, not the browser."""
    pids = tmp_path / "pids"
    hang = tmp_path / "hanging-chromium"
    hang.write_text(f"#!/bin/sh\nsleep 300 &\necho $$ $! > {pids}\nwait\n")
    hang.chmod(0o755)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the profile goes
    started = time.monotonic()
    with pytest.raises(ScreenshotError, match=r"chromium took more than 1 s .*; killed"):
        screenshot(synthetic_run / "results.json", tmp_path / "x.png", chromium=str(hang),
                   timeout_s=1.0)
    assert time.monotonic() - started < 30
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), pid
    assert list((tmp_path / "tmp").iterdir()) == []  # the profile was removed


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
