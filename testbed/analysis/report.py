"""Rich tables of an AirReport, for `testbed analyze` (what a person reads in a terminal).

What it is not: the analysis (account.py) nor results.json (experiment/results.py).
"""

from __future__ import annotations

from rich.table import Table

from testbed.analysis.account import AirReport


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def air_tables(report: AirReport, *, title: str) -> list[Table]:
    """Summary, by-layer and by-purpose tables."""
    total = report.total_bytes
    summary = Table(title=f"{title}: {report.frames} frames ({report.ack_frames} ACKs, "
                    f"{report.fragments} fragments), {report.bytes} bytes PSDU, "
                    f"{total} bytes on air (SHR+PHR included)")
    for column in ("share", "bytes on air", "frames", "of total"):
        summary.add_column(column, justify="left" if column == "share" else "right")
    pr = report.per_reading
    n = int(pr.get("readings", 0))
    how = ", by time: TLS" if pr.get("method") == "time" else ""  # never silently
    summary.add_row(f"per reading (mean of {n}{how})", f"{pr.get('bytes', 0):.1f}",
                    f"{pr.get('frames', 0):.1f}", _pct(float(pr.get("bytes_total", 0)), total))
    summary.add_row("set-up", str(report.setup.get("bytes", 0)),
                    str(report.setup.get("frames", 0)), _pct(report.setup.get("bytes", 0), total))
    summary.add_row("overhead", str(report.overhead.get("bytes", 0)),
                    str(report.overhead.get("frames", 0)),
                    _pct(report.overhead.get("bytes", 0), total))
    frag = report.fragmentation
    rt = report.retransmissions
    summary.caption = (
        f"datagrams {frag.get('datagrams', 0)}, fragmented {frag.get('fragmented', 0)} "
        f"(mean {frag.get('fragments_per_datagram_mean', 0)}, max "
        f"{frag.get('fragments_per_datagram_max', 0)} fragments), incomplete "
        f"{frag.get('incomplete', 0)}; retransmissions: MAC {rt.get('mac', 0)}, transport "
        f"{rt.get('transport', 0)}; payload: TCP {report.payload.get('tcp', 0)}, UDP "
        f"{report.payload.get('udp', 0)} bytes"
        + (f"; {report.undecodable} undecodable frames" if report.undecodable else ""))
    layers = Table(title="by layer")
    layers.add_column("layer")
    layers.add_column("bytes", justify="right")
    layers.add_column("of total", justify="right")
    for name, value in report.by_layer.items():
        layers.add_row(name, str(value), _pct(value, total))
    purposes = Table(title="by purpose")
    for column in ("purpose", "bytes", "frames", "of total"):
        purposes.add_column(column, justify="left" if column == "purpose" else "right")
    for name, value in sorted(report.by_purpose.items(), key=lambda kv: -kv[1]["bytes"]):
        purposes.add_row(name, str(value["bytes"]), str(value["frames"]),
                         _pct(value["bytes"], total))
    return [summary, layers, purposes]
