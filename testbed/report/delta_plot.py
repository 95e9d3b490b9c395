"""The plot of delta.html: bytes per reading and energy per reading, run A beside run B.

Grouped bars per variant: A light and hatched, B in the variant's full colour, so the eye
reads "pale = before, strong = after" without the legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.patches import Patch

from testbed.report.palette import lighter, variant_colours
from testbed.report.plot import Plot, plain
from testbed.report.svg import new_figure, plot_style, to_svg

if TYPE_CHECKING:
    from testbed.report.delta import RunDelta

PANELS = (("steady_bytes_per_reading", "bytes per reading (B), steady, incl. PHY"),
          ("energy_mj_per_reading", "sensors' radio energy per reading (mJ)"))


def delta_plot(delta: RunDelta) -> Plot | None:
    if not delta.variants:
        return None
    names = [v.variant for v in delta.variants]
    colours = variant_colours(names)
    x = np.arange(len(names))
    with plot_style("plot-delta"):
        fig = new_figure(10.5, 3.9)
        axes = fig.subplots(1, 2)
        for ax, (key, label) in zip(axes, PANELS, strict=True):
            figs = [v.figure(key) for v in delta.variants]
            a = [f.a or 0.0 for f in figs]
            b = [f.b or 0.0 for f in figs]
            ax.bar(x - 0.2, a, width=0.38, color=[lighter(colours[n], 0.6) for n in names],
                   edgecolor=[colours[n] for n in names], hatch="///", linewidth=0.8)
            ax.bar(x + 0.2, b, width=0.38, color=[colours[n] for n in names])
            for i, f in enumerate(figs):
                if f.delta_pct is not None:
                    ax.annotate(f"{f.delta_pct:+.0f}%", (x[i], max(a[i], b[i])),
                                xytext=(0, 3), textcoords="offset points", ha="center",
                                fontsize=8, color="#333333")
            ax.set_xticks(x, [plain(n) for n in names], rotation=30, ha="right", fontsize=8.5)
            ax.set_ylabel(label)
            ax.margins(y=0.12)
            ax.grid(axis="x", visible=False)
        axes[0].set_title("Bytes per reading", loc="left")
        axes[1].set_title("Energy per reading", loc="left")
        fig.legend(handles=[
            Patch(facecolor=lighter("#777777", 0.6), edgecolor="#777777", hatch="///",
                  label=plain(f"A: run {delta.a.run_id}")),
            Patch(color="#777777", label=plain(f"B: run {delta.b.run_id}"))],
            loc="outside lower center", ncol=2)
        svg = to_svg(fig, element_id="plot-delta")
    return Plot("plot-delta", "Run A against run B",
                "Left: air.per_reading.bytes (bytes on the air of one reading in steady state, "
                "PHY included); right: energy.per_reading_mj.protocol. Hatched: run A, solid: "
                "run B; the label is the change from A to B in percent of A.", svg)
