"""VmRSS/VmHWM of a process: the labelled emulated reference."""

from __future__ import annotations

import os
from pathlib import Path

from testbed.memory.process import LABEL, process_memory


def test_this_process() -> None:
    figures = process_memory(os.getpid())
    assert figures is not None and figures.label == LABEL == "emulated-process-reference"
    assert 1_000_000 < figures.rss_bytes <= figures.peak_rss_bytes


def test_status_lines_in_kb(tmp_path: Path) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "status").write_text("Name:\tpython\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n")
    figures = process_memory(7, proc=tmp_path)
    assert figures is not None
    assert (figures.rss_bytes, figures.peak_rss_bytes) == (1024 * 1024, 2048 * 1024)


def test_gone_or_truncated_is_none(tmp_path: Path) -> None:
    assert process_memory(8, proc=tmp_path) is None
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "status").write_text("Name:\tzombie\nVmRSS:\t12")  # no VmHWM, cut short
    assert process_memory(9, proc=tmp_path) is None
