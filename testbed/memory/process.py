"""Memory of an emulated node's process (CPython on Linux): a labelled reference only.

What it is: VmRSS and VmHWM from /proc/<pid>/status (proc(5)), in bytes. What it is not: a
microcontroller figure: a CPython interpreter's resident set says nothing about whether an
app fits a 16 kB micro:bit; results label it "emulated-process-reference".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LABEL = "emulated-process-reference"


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    pid: int
    rss_bytes: int
    peak_rss_bytes: int
    label: str = LABEL


def process_memory(pid: int, *, proc: Path = Path("/proc")) -> ProcessMemory | None:
    """VmRSS/VmHWM of `pid`; None when the process is gone (or has no such lines)."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if key in ("VmRSS", "VmHWM") and len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0]) * 1024
    if "VmRSS" not in fields or "VmHWM" not in fields:
        return None
    return ProcessMemory(pid=pid, rss_bytes=fields["VmRSS"], peak_rss_bytes=fields["VmHWM"])
