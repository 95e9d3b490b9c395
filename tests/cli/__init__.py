"""The `testbed` command line, run as a user runs it (a subprocess) where exit statuses and
stderr matter; tests/test_cli.py holds the older commands' tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "testbed.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 120, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=kw.pop("cwd", ROOT), **kw)  # type: ignore[call-overload]
