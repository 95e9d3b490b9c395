"""The comparison on grids of growing size (`testbed sweep --sizes 5,25,50`): how each variant's
costs grow with the network.

Each size N is a full comparison (scenario.run_comparison) on a generated N-node grid
(config/generate.grid: border router in a corner, every other node a sensor, 4-neighbour
links, so the far corner is ~2 sqrt(N) hops out), in its own run directory under the sweep's.
Per variant and N the sweep keeps the figures a reader compares across sizes, and fits each
against N as a power law y = a N^b (study_mdns.fit_power_law), read as O(1), O(N), ...
What it is not: a study of one protocol mechanism (study_mdns is), nor repeats per size
(`compare --repeat` is; a sweep takes one seed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from testbed.config.generate import grid
from testbed.energy.report import duty_cycled_mj
from testbed.errors import BadInput
from testbed.jsonlines import write_json_atomic
from testbed.experiment.results import VariantResult, read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.study_mdns import fit_power_law, growth_label
from testbed.experiment.variants import Variant

RESULTS = "results.json"


#: figure (its unit in its name) -> how a variant's result gives it; None where not measured
FIGURES: dict[str, Callable[[VariantResult], float | None]] = {
    "delivery": lambda v: v.readings.delivered / v.readings.expected
    if v.readings.expected else None,
    "steady B/rdg": lambda v: v.air.per_reading.get("bytes")
    if v.air.per_reading.get("readings") else None,
    "all-in B/rdg": lambda v: v.air.on_air_bytes / v.readings.delivered
    if v.readings.delivered else None,
    "mJ/rdg duty-cycled": lambda v: duty_cycled_mj(v.energy),
    "set-up ms p50": lambda v: v.phases.setup_ms.p50,
    "latency ms p50": lambda v: v.readings.latency_ms.p50,
}


def parse_sizes(text: str) -> tuple[int, ...]:
    """`"5,25,50"` -> (5, 25, 50); BadInput (exit 2) for anything but sizes >= 2."""
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise BadInput(f"--sizes: expected comma-separated node counts, got {text!r}") from None
    if not sizes or sizes[0] < 2:
        raise BadInput(f"--sizes: every grid needs a border router and a sensor (>= 2), "
                       f"got {text!r}")
    return sizes


def point_figures(v: VariantResult) -> dict[str, float | None]:
    figures = {name: get(v) for name, get in FIGURES.items()}
    return {k: (round(x, 4) if isinstance(x, float) else x) for k, x in figures.items()}


def growth(points: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per variant and figure, the power law over N (sizes where it was measured and > 0)."""
    out = []
    variants = dict.fromkeys(v for p in points.values() for v in p["variants"])
    for variant in variants:
        for figure in FIGURES:
            xs, ys = [], []
            for p in points.values():
                value = (p["variants"].get(variant) or {}).get(figure)
                if isinstance(value, (int, float)) and value > 0:
                    xs.append(p["nodes"])
                    ys.append(float(value))
            fit = fit_power_law(xs, ys)
            if fit is not None:
                out.append({"variant": variant, "figure": figure,
                            **{k: round(x, 4) for k, x in fit.items()},
                            "growth": growth_label(fit["b"])})
    return out


def run_sweep(*, sizes: Sequence[int], variants: Sequence[Variant], readings: int,
              interval_s: float, seed: int, payload: str, platform: str, out: str | Path,
              on_point: Callable[[int, Path], object] | None = None) -> Path:
    """A comparison per size; the sweep's directory (results.json) when all are done. An
    interrupted sweep keeps the sizes finished until then in its results.json."""
    directory = Path(out) / f"{time.strftime('%Y%m%d-%H%M%S')}-sweep"
    directory.mkdir(parents=True, exist_ok=False)
    sweep = {"study": "sweep", "sweep": {
        "sizes": list(sizes), "variants": [str(v) for v in variants], "readings": readings,
        "interval_s": interval_s, "seed": seed, "payload": payload, "platform": platform,
        "topology": "grid"}, "points": {}, "growth": []}
    write_json_atomic(directory / RESULTS, sweep)
    for n in sizes:
        topology = grid(n)
        if platform != "emulated":
            topology = topology.on_platform(platform)
        run_dir = run_comparison(topology, variants=variants, readings=readings,
                                 interval_s=interval_s, seed=seed, payload=payload,
                                 out=directory, measure_memory=False,
                                 argv=["testbed", "sweep", f"--sizes={n}"])
        results = read_results(run_dir)
        sweep["points"][str(n)] = {
            "nodes": n, "sensors": n - 1, "run": run_dir.name,
            "variants": {name: point_figures(v) for name, v in results.variants.items()},
            "errors": {name: v.error for name, v in results.variants.items() if v.error},
        }
        sweep["growth"] = growth(sweep["points"])
        write_json_atomic(directory / RESULTS, sweep)
        if on_point is not None:
            on_point(n, run_dir)
    return directory
