"""`testbed analyze`: rich tables, --json for scripts, one line and status 2 for a damaged file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .frames import Air
from .test_account import xmpp_session


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "testbed.cli", "analyze", *args],
                          capture_output=True, text=True, timeout=60)


def test_tables_and_json(tmp_path: Path) -> None:
    air = Air()
    xmpp_session(air)
    path = air.write(tmp_path / "s.pcap")
    shown = _run(str(path))
    assert shown.returncode == 0, shown.stderr
    for words in ("per reading (mean of 1)", "set-up", "by layer", "by purpose", "xmpp-presence"):
        assert words in shown.stdout
    data = json.loads(_run(str(path), "--json").stdout)
    assert data["frames"] == len(air.frames)
    assert sum(data["by_layer"].values()) == data["total_bytes"]


def test_a_damaged_capture_is_one_line_and_status_2(tmp_path: Path) -> None:
    air = Air()
    xmpp_session(air)
    path = air.write(tmp_path / "s.pcap")
    path.write_bytes(path.read_bytes()[:-7])
    shown = _run(str(path))
    assert shown.returncode == 2
    assert shown.stderr.count("\n") == 1 and "offset" in shown.stderr and "Traceback" not in \
        shown.stderr
