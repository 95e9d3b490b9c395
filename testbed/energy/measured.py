"""What a lab's power meters measured during a variant: results.json `energy.measured`.

Why apart from the model (report.py) and Energest (energest.py): these are measurements of
the board's whole supply (radio, MCU, regulators, LEDs), not an estimate from radio times;
the report shows them as measured, beside the estimates. The files are the meters' records
(testbed/backends/meter.py: `<variant>/meters/<node>.txt`, serial-lines format with `#`
comments, a `# error: ...` line when the meter failed mid-variant).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.energy.meters import integrate, parse_serial_lines

ERROR = "error: "  # a comment line `# error: ...`: the meter failed


def measured_section(directory: Path) -> dict[str, dict[str, Any]]:
    """Per metered node: joules, mean current, span, samples, gaps, skipped lines, the file,
    and `error` when its meter failed (the figures cover what came before). {} if none."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((directory / "meters").glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        comments = [line[2:] for line in text.splitlines() if line.startswith("# ")]
        trace = parse_serial_lines(text)
        integral = integrate(trace.samples)
        figures: dict[str, Any] = {
            "source": comments[0] if comments else "meter",
            "joules": round(integral.energy_j, 9),
            "mean_mA": (round(integral.mean_current_a * 1000, 6)
                        if integral.duration_s > 0 else None),
            "duration_s": round(integral.duration_s, 6),
            "samples": integral.samples,
            "gaps": len(integral.gaps),
            "skipped_lines": len(trace.skipped),
            "file": str(path.relative_to(directory)),
        }
        errors = [line[len(ERROR):] for line in comments if line.startswith(ERROR)]
        if errors:
            figures["error"] = errors[0]
        out[path.stem] = figures
    return out
