"""A PNG of a report page, taken by Debian's chromium in headless mode (README's picture).

`screenshot(html, png)` runs chromium as an argv list with a fresh profile directory, waits at
most `timeout_s`, kills the whole process group if it hangs, and removes the profile. What it
is not: a browser test (tests/report/test_browser.py drives chromium through selenium).

    python -m testbed.report.screenshot RUN_DIR OUT.png [--width 1280] [--height 1400]

renders RUN_DIR's report (render_report), photographs the top of it and reduces the PNG to
256 colours (README's picture: docs/screenshots/report.png).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed.backends.processes import dies_with_parent, kill_process_group
from testbed.errors import TestbedError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTALL_HINT = "install the Debian package chromium (apt-get install chromium)"
PROFILE_PREFIX = "testbed-chromium-"  # the browser's throw-away profile: tempdir/<prefix>XXXX


class ScreenshotError(TestbedError):
    """chromium is missing, hung, or wrote no PNG."""


def chromium_argv(chromium: str, html: Path, png: Path, *, width: int, height: int,
                  profile: Path) -> list[str]:
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-breakpad", "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars", "--force-device-scale-factor=1",
        f"--user-data-dir={profile}", f"--window-size={width},{height}",
        f"--screenshot={png}", Path(html).resolve().as_uri(),
    ]


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 1400,
               chromium: str = "chromium", timeout_s: float = 60.0) -> Path:
    """Photograph the top `width` x `height` pixels of `html` into `png`; return `png`."""
    executable = shutil.which(chromium)
    if executable is None:
        raise ScreenshotError(f"no {chromium!r} on PATH: {INSTALL_HINT}")
    html, png = Path(html), Path(png).resolve()
    if not html.is_file():
        raise ScreenshotError(f"{html}: no such report")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    profile = Path(tempfile.mkdtemp(prefix=PROFILE_PREFIX))
    try:
        argv = chromium_argv(executable, html, png, width=width, height=height, profile=profile)
        try:
            process = subprocess.Popen(dies_with_parent(argv, lasting=False),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       env=browser_env(profile))
        except OSError as exc:  # not executable, not a program (exec format error), ...
            raise ScreenshotError(f"{executable} cannot be started ({exc.strerror or exc}): "
                                  f"{INSTALL_HINT}") from None
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_process_group(process, grace_s=0)
            raise ScreenshotError(f"chromium took more than {timeout_s:g} s on {html}; "
                                  "killed") from None
        finally:
            kill_process_group(process, grace_s=0)  # helpers (zygotes) that outlived the browser
    finally:
        stop_stragglers(profile)
        shutil.rmtree(profile, ignore_errors=True)
    if process.returncode != 0 or not png.is_file():
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        raise ScreenshotError(f"chromium exited with status {process.returncode} and wrote no "
                              f"{png.name}: {' | '.join(tail)}")
    with png.open("rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            raise ScreenshotError(f"{png}: chromium wrote something that is not a PNG")
    return png


def browser_env(profile: Path) -> dict[str, str]:
    """The environment of a browser: its config and cache (crash reports too) in `profile`,
    so it leaves nothing in the user's home and its helpers can be found by that path."""
    return {**os.environ, "XDG_CONFIG_HOME": str(profile / "config"),
            "XDG_CACHE_HOME": str(profile / "cache")}


def processes_using(profile: Path | str) -> list[int]:
    """Live processes whose command line contains `profile`: the browser and its helpers (the
    crash handler daemonises, out of the browser's process group, but names its database)."""
    needle = str(profile).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != b"Z":
            found.append(int(entry))
    return found


def stop_stragglers(profile: Path, grace_s: float = 5.0) -> None:
    """Give the browser's helpers `grace_s` to exit by themselves, then SIGKILL them by pid."""
    deadline = time.monotonic() + grace_s
    while (pids := processes_using(profile)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def reduce_colours(png: Path, colours: int = 256) -> Path:
    """Re-encode `png` with a palette of `colours` (fast octree, no dithering): a light report
    page keeps every colour within a few levels and shrinks about three times (README)."""
    from PIL import Image  # pillow comes with matplotlib

    with Image.open(png) as image:
        reduced = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.FASTOCTREE,
                                                dither=Image.Dither.NONE)
    reduced.save(png, optimize=True)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.report.screenshot",
        description="Render RUN_DIR's report.html and save a PNG of its top part.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1400)
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--colours", type=int, default=256,
                        help="palette size of the PNG (0: full colour)")
    args = parser.parse_args(argv)
    from testbed.report.render import render_report

    try:
        files = render_report(args.run_dir)
        png = screenshot(files.html, args.png, width=args.width, height=args.height,
                         chromium=args.chromium)
        if args.colours:
            reduce_colours(png, args.colours)
    except TestbedError as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return exc.exit_status
    print(f"{png} ({png.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
