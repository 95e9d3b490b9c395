"""`testbed analyze`: rich tables, --json for scripts, one line and status 2 for a damaged file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .frames import Air
from .sessions import xmpp_session


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


def test_events_attribute_tls_readings_by_time(tmp_path: Path) -> None:
    from .sessions import SENSOR, tls_session

    air = Air()
    marks = tls_session(air)
    path = air.write(tmp_path / "capture.pcap")
    timed = air.timed()
    (tmp_path / "medium-spec.json").write_text(json.dumps(
        {"prefix": "fd00::/64", "nodes": [{"name": "br", "short": 1},
                                          {"name": "s2", "short": SENSOR}]}))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "s2.jsonl").write_text("".join(
        json.dumps({"event": "reading", "seq": seq, "t": timed[marks[m]][0] - 0.001}) + "\n"
        for seq, m in ((1, "presence"), (2, "reading2"))))
    data = json.loads(_run(str(path), "--json", "--events", str(tmp_path)).stdout)
    assert (data["per_reading"]["method"], data["per_reading"]["readings"]) == ("time", 2)
    assert json.loads(_run(str(path), "--json").stdout)["per_reading"]["readings"] == 0
    assert "by time: TLS" in _run(str(path), "--events", str(tmp_path)).stdout
    missing = _run(str(path), "--events", str(tmp_path / "logs"))
    assert missing.returncode == 2 and "medium-spec.json: not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_analyze_reads_pcapng_and_gzip_too(tmp_path) -> None:
    """'any capture': the same report from the classic pcap, a pcapng (editcap) and a .gz."""
    import gzip
    import shutil
    import subprocess

    from testbed.analysis.account import analyze_capture
    from testbed.capture.pcapwriter import PcapWriter
    from testbed.lowpan import mac

    frames = [mac.encode_data(seq=i, pan_id=0xABCD, dst=2, dst_mode=2, src=1, src_mode=2,
                              payload=bytes([0x41]) + bytes(40), ack_request=True)
              for i in range(3)] + [mac.encode_ack(0)]
    classic = tmp_path / "c.pcap"
    with PcapWriter(classic, t0_unix=1.7e9) as writer:
        for i, psdu in enumerate(frames):
            writer.write(i * 0.01, psdu)
    if shutil.which("editcap") is None:
        pytest.skip("editcap (Wireshark) not installed")
    ng = tmp_path / "c.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(classic), str(ng)], check=True)
    gz = tmp_path / "c.pcap.gz"
    gz.write_bytes(gzip.compress(classic.read_bytes()))
    reports = [analyze_capture(p).to_json() for p in (classic, ng, gz)]
    assert reports[0]["frames"] == 4 and reports[0]["bytes"] == sum(map(len, frames))
    assert reports[1] == reports[0] == reports[2]
