"""The report's plots, each an inline SVG with a title (what is drawn) and a caption (how it
was measured): bytes by layer, frames and fragments, energy per node and state, latency CDF,
memory.

Each function takes what results.json (and the sinks' deliveries) say and returns a `Plot`,
or None when the run holds nothing to draw (an older run without energy, a run without
memory figures): the report then leaves the plot out rather than draw an empty frame.
Variants keep their palette colour everywhere (palette.py) and their run order top to bottom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import floor, log10
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import ScaledTranslation

from testbed.analysis.layers import SHR_PHR_BYTES
from testbed.experiment.results import Results
from testbed.report.columns import figure_text
from testbed.report.model import (
    CONTIKI_MEMORY, VariantFigures, energy_mode, energy_settings, firmware_tables, profile_of,
)
from testbed.report.palette import (
    FAILED, LAYER_COLOURS, LAYER_LABELS, LAYERS, KNOWN, lighter,
)
from testbed.report.plot import Plot, plain
from testbed.report.spread import SHOWN, spread_caption, spreads
from testbed.report.svg import new_figure, plot_style, to_svg

STATES = ("tx", "rx", "listen", "sleep")
THOUSANDS = FuncFormatter(lambda v, _: f"{v:,.0f}")
STATE_TITLES = {"tx": "TX (sending frames)", "rx": "RX (receiving frames)",
                "listen": "listen (idle, radio on)", "sleep": "sleep (radio off)"}


def _variant_axis(ax: Axes, names: Sequence[str], colours: Mapping[str, str]) -> None:
    """Variants top to bottom in run order, each with its colour as a square by its name."""
    ax.set_yticks(range(len(names)), [plain(n) for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0, pad=16)
    beside = ax.get_yaxis_transform() + ScaledTranslation(-8 / 72, 0, ax.figure.dpi_scale_trans)
    for i, name in enumerate(names):
        ax.plot([0], [i], marker="s", markersize=8, color=colours[name], clip_on=False,
                transform=beside, linestyle="none")
    ax.grid(axis="y", visible=False)


def _bar_label(ax: Axes, x: float, y: float, text: str) -> None:
    """A value just right of a horizontal bar's end."""
    ax.annotate(plain(text), (x, y), xytext=(4, 0), textcoords="offset points", va="center",
                ha="left", fontsize=8.5, color="#333333")


def _headroom(ax: Axes, right: float, share: float = 0.22) -> None:
    """Room right of the longest bar for its label."""
    ax.set_xlim(0, right * (1 + share) if right > 0 else 1)


def layer_bytes(results: Results, figures: Sequence[VariantFigures],
                colours: Mapping[str, str]) -> Plot | None:
    """(a) Bytes on the air per delivered reading, stacked by layer, set-up included."""
    rows = [(f, results.variants[f.name].air.by_layer) for f in figures
            if results.variants[f.name].air.by_layer and f.delivered]
    if not rows:
        return None
    names = [f.name for f, _ in rows]
    extra = sorted({k for _, by in rows for k in by} - set(LAYERS))  # a layer added later
    with plot_style("plot-layers"):
        fig = new_figure(10.5, 0.36 * len(rows) + 1.5)
        ax = fig.add_subplot()
        left = np.zeros(len(rows))
        for layer in (*LAYERS, *extra):
            widths = np.array([by.get(layer, 0) / f.delivered for f, by in rows])
            ax.barh(range(len(rows)), widths, left=left, height=0.62,
                    color=LAYER_COLOURS.get(layer, "#9e9e9e"),
                    label=plain(LAYER_LABELS.get(layer, layer)), edgecolor="white",
                    linewidth=0.6)
            left += widths
        for i, (f, _) in enumerate(rows):  # the bar's label is the table's all-in figure
            _bar_label(ax, left[i], i, f"{figure_text(f.all_in_bytes_per_reading)} B")
            if f.steady_bytes_per_reading is not None:
                ax.plot([f.steady_bytes_per_reading], [i], marker="D", markersize=6.5,
                        color="#1b1b1b", markeredgecolor="white", linestyle="none",
                        label="steady state per reading" if i == 0 else None, zorder=3)
        _headroom(ax, float(left.max()))
        ax.xaxis.set_major_formatter(THOUSANDS)
        _variant_axis(ax, names, colours)
        ax.set_xlabel("bytes on the air per delivered reading (B), all frames of the run")
        ax.set_title("What a reading costs on the air, by layer", loc="left")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17 - 0.3 / len(rows)), ncol=8,
                  handlelength=1.2, columnspacing=1.0)
        svg = to_svg(fig, element_id="plot-layers")
    return Plot(
        "plot-layers", "Bytes on the air by layer",
        "Every byte of the whole run's capture (data frames and link ACKs, set-up, "
        "retransmissions and ICMPv6 included) attributed to its layer by testbed.analysis "
        f"(results.json air.by_layer, PHY = {SHR_PHR_BYTES} B SHR+PHR per frame), divided by "
        "the readings the sink received: the figure at the bar's end is the table's all-in B/rdg "
        "(air.total_bytes / delivered). The black diamond is the steady-state cost of one "
        "reading (air.per_reading.bytes, set-up excluded).", svg)


def frames_and_fragments(results: Results, figures: Sequence[VariantFigures],
                         colours: Mapping[str, str]) -> Plot | None:
    """(b) Frames per reading (steady and all-in) and 6LoWPAN fragmentation."""
    rows = [f for f in figures if f.delivered and f.frames]
    if not rows:
        return None
    with plot_style("plot-frames"):
        fig = new_figure(10.5, 0.34 * len(rows) + 1.3)
        left, right = fig.subplots(1, 2, sharey=True, width_ratios=(1.15, 1))
        _frames_panel(left, rows, colours)
        _fragments_panel(right, rows, results, colours)
        fig.legend(handles=[Patch(color="#777777", label="steady state (set-up excluded)"),
                            Patch(facecolor=lighter("#777777", 0.6), edgecolor="#777777",
                                  label="all-in (whole run / delivered readings)")],
                   loc="outside lower center", ncol=2)
        svg = to_svg(fig, element_id="plot-frames")
    return Plot(
        "plot-frames", "Frames and fragments per reading",
        "Frames counted in each variant's capture. Solid bars: frames attributed to one reading "
        "in steady state (air.per_reading.frames, mean over readings); light bars: every frame "
        "of the run (air.frames, set-up and retries included) per delivered reading. Right: "
        "frames carrying a RFC 4944 fragment header per delivered reading (air.fragments), "
        "with the share of IPv6 datagrams that needed fragmenting (air.fragmentation).", svg)


def _frames_panel(ax: Axes, rows: Sequence[VariantFigures], colours: Mapping[str, str]) -> None:
    all_in = [f.frames / f.delivered for f in rows]
    for i, f in enumerate(rows):
        colour = colours[f.name]
        ax.barh(i, all_in[i], height=0.66, color=lighter(colour, 0.6), edgecolor=colour,
                linewidth=0.8)
        if f.frames_per_reading is not None:
            ax.barh(i, f.frames_per_reading, height=0.4, color=colour)
        label = (f"{f.frames_per_reading:.1f} steady · {all_in[i]:.1f} all-in"
                 if f.frames_per_reading is not None else f"{all_in[i]:.1f} all-in")
        _bar_label(ax, all_in[i], i, label)
    _headroom(ax, max(all_in), 0.55)
    _variant_axis(ax, [f.name for f in rows], colours)
    ax.set_xlabel("802.15.4 frames per delivered reading\n(data frames and link ACKs)")
    ax.set_title("Frames per reading", loc="left")


def _fragments_panel(ax: Axes, rows: Sequence[VariantFigures], results: Results,
                     colours: Mapping[str, str]) -> None:
    per_reading = []
    for i, f in enumerate(rows):
        air = results.variants[f.name].air
        per = air.fragments / f.delivered
        per_reading.append(per)
        ax.barh(i, per, height=0.55, color=colours[f.name])
        fr = air.fragmentation
        if not fr.get("datagrams"):
            note = "not analysed"
        elif fr.get("fragmented"):
            note = (f"{fr['fragmented']}/{fr['datagrams']} datagrams fragmented, "
                    f"≤{fr.get('fragments_per_datagram_max', 0)} fragments")
        else:
            note = "no datagram fragmented"
        _bar_label(ax, per, i, f"{per:.1f} · {note}" if per else note)
    _headroom(ax, max(per_reading), 1.6)
    ax.set_xlabel("6LoWPAN fragment frames per delivered reading\n(FRAG1 and FRAGN headers)")
    ax.set_title("Fragmentation", loc="left")
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="y", visible=False)


def energy_by_state(results: Results, figures: Sequence[VariantFigures],
                    colours: Mapping[str, str]) -> Plot | None:
    """(c) Each node's radio energy per state, grouped by node, one bar per variant."""
    per_variant = {f.name: results.variants[f.name].energy.get("nodes") or {} for f in figures}
    per_variant = {n: nodes for n, nodes in per_variant.items() if nodes}
    energy = energy_settings(results)
    if not per_variant or energy is None:
        return None
    nodes: list[str] = list(dict.fromkeys(n for ns in per_variant.values() for n in ns))
    roles = {n: ns[n].get("role", "") for ns in per_variant.values() for n in ns}

    def state_mj(variant: str, node: str, state: str) -> float:
        by_state = (per_variant[variant].get(node) or {}).get("energy_mj") or {}
        return float(by_state.get(state) or 0)

    states = [s for s in STATES if any(state_mj(v, n, s) for v in per_variant for n in nodes)]
    if not states:
        return None
    names = list(per_variant)
    cols = 2 if len(states) > 1 else 1
    panels = -(-len(states) // cols)
    with plot_style("plot-energy"):
        fig = new_figure(10.5, 2.7 * panels + 0.7)
        axes = np.atleast_1d(fig.subplots(panels, cols, squeeze=False)).ravel()
        width = 0.8 / len(names)
        x = np.arange(len(nodes))
        for ax, state in zip(axes, states, strict=False):
            for j, name in enumerate(names):
                ax.bar(x - 0.4 + width * (j + 0.5), [state_mj(name, n, state) for n in nodes],
                       width=width * 0.92, color=colours[name], label=plain(name))
            ax.set_xticks(x, [plain(f"{n}\n{roles.get(n, '')}") for n in nodes], fontsize=8.5)
            ax.set_ylabel("energy (mJ)")
            ax.set_title(STATE_TITLES[state], loc="left", fontsize=10)
            ax.grid(axis="x", visible=False)
        handles, labels = axes[0].get_legend_handles_labels()
        spare = axes[len(states):]
        for ax in spare:
            ax.axis("off")
        if len(spare):  # the empty panel holds the legend
            spare[0].legend(handles, labels, loc="center", title="variant", fontsize=9,
                            title_fontsize=9)
        else:
            fig.legend(handles, labels, loc="outside lower center", ncol=min(len(names), 7),
                       handlelength=1.2)
        fig.suptitle("Radio energy of each node, by radio state", x=0.01, ha="left",
                     fontweight="bold", fontsize=11)
        svg = to_svg(fig, element_id="plot-energy")
    spans = [float(v.energy["span_s"]) for v in results.variants.values()
             if v.energy.get("span_s")]
    span = (f" Runs lasted {min(spans):.1f}–{max(spans):.1f} s, so idle listening grows with "
            "each variant's run length." if spans else "")
    absent = [STATE_TITLES[s].split(" ")[0] for s in STATES if s not in states]
    missing = f" Not drawn (0 mJ everywhere): {', '.join(absent)}." if absent else ""
    profile = profile_of(energy)
    platform = profile.get("title") or profile.get("name", "profile's")
    return Plot(
        "plot-energy", "Energy per node and radio state",
        f"Each node's time in each radio state over the whole run, from the medium's "
        f"activity log (radio.csv), times the {platform} "
        f"currents at {profile.get('voltage_v', '?')} V (results.json energy.nodes.<node>."
        f"energy_mj; mode {energy_mode(energy)}; radio only, no CPU).{span}{missing}", svg)


def latency_cdf(latencies: Mapping[str, Sequence[float]], colours: Mapping[str, str]
                ) -> Plot | None:
    """(d) Distribution of one-way latency per variant, log x-axis."""
    series = {n: [v for v in vals if v > 0] for n, vals in latencies.items() if vals}
    series = {n: vals for n, vals in series.items() if vals}
    if not series:
        return None
    dropped = sum(len(latencies[n]) - len(series.get(n, [])) for n in latencies)
    with plot_style("plot-latency"):
        fig = new_figure(10.5, 4.2)
        ax = fig.add_subplot()
        for name, vals in series.items():
            xs = np.sort(np.asarray(vals))
            ys = np.arange(1, len(xs) + 1) / len(xs)
            ax.step(np.concatenate(([xs[0]], xs)), np.concatenate(([0.0], ys)), where="post",
                    color=colours[name], linewidth=2, label=plain(f"{name} (n={len(xs)})"))
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.{max(0, -floor(log10(v)))}f}"
                                                   if v > 0 else ""))
        for q in (0.5, 0.95):
            ax.axhline(q, color="#999999", linewidth=0.8, linestyle=(0, (4, 3)), zorder=0)
            ax.annotate(f"p{round(q * 100)}", (0, q), xycoords=("axes fraction", "data"),
                        xytext=(3, 2), textcoords="offset points", fontsize=8, color="#666666")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("one-way latency, node's reading time → sink (ms, log scale)")
        ax.set_ylabel("fraction of readings delivered")
        ax.set_title("Latency distribution (CDF)", loc="left")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        svg = to_svg(fig, element_id="plot-latency")
    note = f" {dropped} non-positive value(s) left out of the log axis." if dropped else ""
    return Plot(
        "plot-latency", "Latency CDF",
        "For each reading the sink received (first copy; deliveries.jsonl), t_sink − t_node: "
        "the node stamps the reading when it produces it, the sink when it has decoded it; "
        "both clocks are the host's (emulated nodes)." + note, svg)


def memory_bars(memory: Mapping[str, Any], heaps: Mapping[str, Any]) -> Plot | None:
    """(e) Bytecode per module of each app, and its heap on a real MicroPython."""
    apps = [a for a, m in memory.items() if m.get("modules") or m.get("bytecode_bytes")]
    if not apps:
        return None
    families = {a: _app_colour(a) for a in apps}
    with plot_style("plot-memory"):
        fig = new_figure(10.5, 0.62 * len(apps) + 1.9)
        code_ax, heap_ax = fig.subplots(1, 2, sharey=True)
        top = 0.0
        for i, app in enumerate(apps):
            modules = memory[app].get("modules") or {}
            left = 0.0
            shades = _shades(families[app], len(modules))
            for (module, sizes), shade in zip(sorted(modules.items()), shades, strict=True):
                width = float(sizes.get("bytecode_bytes") or 0)
                code_ax.barh(i, width, left=left, height=0.6, color=shade, edgecolor="white",
                             linewidth=0.8)
                if width > 1300:
                    code_ax.text(left + width / 2, i, plain(module), ha="center", va="center",
                                 fontsize=7.5, color="#1b1b1b")
                left += width
            total = memory[app].get("bytecode_bytes") or left
            _bar_label(code_ax, left, i, f"{total:,} B")
            top = max(top, left)
        _headroom(code_ax, top, 0.2)
        code_ax.set_yticks(range(len(apps)), [plain(a) for a in apps])
        code_ax.set_ylim(len(apps) - 0.5, -0.5)
        code_ax.tick_params(axis="y", length=0)
        code_ax.grid(axis="y", visible=False)
        code_ax.set_xlabel("bytecode (B, mpy-cross), by module")
        code_ax.xaxis.set_major_formatter(THOUSANDS)
        code_ax.set_title("Code size", loc="left")
        _heap_panel(heap_ax, apps, heaps, families)
        svg = to_svg(fig, element_id="plot-memory")
    platforms = sorted({str(h.platform) for h in heaps.values() if h.fits is not None})
    where = f" on {', '.join(platforms)}" if platforms else ""
    return Plot(
        "plot-memory", "Memory: code size and heap",
        "Left: the size of each app module compiled by mpy-cross (results.json memory.<app>."
        "modules). Right: the app imported and run on a real MicroPython heap" + where +
        " (gc.mem_alloc() over the raw REPL): the grey bar is the whole heap, the coloured bar "
        "the most the app used, the red mark the allocation that raised MemoryError.", svg)


def firmware_bars(memory: Mapping[str, Any], *, largest: int = 6) -> Plot | None:
    """(f) ROM and RAM of each C app built for a board, by module, with the seed's 128 KB-ROM
    line and the board's RAM: does the XMPP client fit a 128 KB-ROM class node?"""
    tables = [t for t in firmware_tables(memory, largest=largest) if t.rom is not None]
    if not tables:
        return None
    section = memory[CONTIKI_MEMORY]
    rom_class = tables[0].rom_class
    board_ram = (section.get("board") or {}).get("ram_bytes")
    names = [t.app for t in tables]
    with plot_style("plot-firmware"):
        fig = new_figure(10.5, 0.7 * len(tables) + 2.3)
        rom_ax, ram_ax = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]})
        ram_label = f"{(board_ram or 0) // 1024} KB RAM ({section.get('target')})"
        for ax, key, limit, label in ((rom_ax, "rom", rom_class,
                                       f"{rom_class // 1024} KB ROM class (seed)"),
                                      (ram_ax, "ram", board_ram, ram_label)):
            top = 0.0
            for i, t in enumerate(tables):
                shades = _shades(_app_colour(t.app), len(t.modules))
                left = 0.0
                # the last row may be "N other modules": not labelled as a module
                rest = bool(t.modules) and t.modules[-1].module.endswith(" modules")
                named = len(t.modules) - rest
                for n, (row, shade) in enumerate(zip(t.modules, shades, strict=True)):
                    width = float(getattr(row, key))
                    ax.barh(i, width, left=left, height=0.6, color=shade, edgecolor="white",
                            linewidth=0.8)
                    if key == "rom" and n < named and width > 0.06 * rom_class:
                        ax.text(left + width / 2, i, plain(row.module.split("/")[-1]),
                                ha="center", va="center", fontsize=7.5, color="#1b1b1b")
                    left += width
                _bar_label(ax, left, i, f"{int(left):,} B")
                top = max(top, left)
            if limit:
                ax.axvline(limit, color=FAILED, linewidth=1.4, linestyle="--")
                ax.annotate(plain(label), (limit, -0.5), xytext=(-3, 3),
                            textcoords="offset points", ha="right", va="bottom", fontsize=8,
                            color=FAILED)
                top = max(top, limit)
            _headroom(ax, top, 0.18)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.xaxis.set_major_formatter(THOUSANDS)
            ax.grid(axis="y", visible=False)
            ax.tick_params(axis="y", length=0)
        rom_ax.set_yticks(range(len(names)), [plain(n) for n in names])
        rom_ax.set_ylim(len(names) - 0.5, -0.75)
        rom_ax.set_xlabel("ROM = text + data (B), largest modules first")
        rom_ax.set_title("ROM", loc="left")
        ram_ax.set_xlabel("RAM = data + bss (B), same modules")
        ram_ax.set_title("RAM", loc="left")
        svg = to_svg(fig, element_id="plot-firmware")
    fits = ", ".join(f"{t.app} {'fits' if t.fits else 'does NOT fit'}" for t in tables)
    return Plot(
        "plot-firmware", f"Memory of the C apps on {section.get('target')}: the 128 KB-ROM line",
        f"Each bar is one app built with Contiki-NG for {section.get('target')} (results.json "
        f"memory.contiki.firmware.<app>.modules), split by module, the {largest} largest "
        f"darkest first, the rest in the lightest shade; the dashed line is the seed's "
        f"{rom_class // 1024} KB-ROM class node (left) and the board's RAM (right): {fits}.",
        svg)


def _heap_panel(ax: Axes, apps: Sequence[str], heaps: Mapping[str, Any],
                families: Mapping[str, str]) -> None:
    measured = [a for a in apps if heaps.get(a) is not None and heaps[a].total]
    ax.set_title("Heap (real MicroPython)", loc="left")
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="y", length=0)
    if not measured:
        why = next((h.error for h in heaps.values() if h is not None and h.error), None)
        ax.text(0.02, 0.5, plain(f"heap not measured: {why or 'no board in this run'}"),
                transform=ax.transAxes, fontsize=8.5, color="#555555", va="center", wrap=True)
        ax.set_xticks([])
        return
    top = 0.0
    for i, app in enumerate(apps):
        h = heaps.get(app)
        if h is None or not h.total:
            ax.text(0, i, "  not measured", va="center", fontsize=8, color="#555555")
            continue
        ax.barh(i, h.total, height=0.6, color="#f0f0f0", edgecolor="#b0b0b0", linewidth=0.8)
        used = h.used or 0
        ax.barh(i, used, height=0.36, color=families[app])
        top = max(top, h.total)
        if h.fits:
            _bar_label(ax, h.total, i, f"fits: {used:,} of {h.total:,} B")
        elif h.fits is False:
            alloc = h.failed_alloc or 0
            if alloc:
                ax.barh(i, alloc, left=used, height=0.36, color="none", edgecolor=FAILED,
                        hatch="////", linewidth=0.8)
            ax.plot([used + alloc], [i], marker="X", markersize=9, color=FAILED,
                    markeredgecolor="white", linestyle="none")
            what = f"MemoryError in {h.failed_step}" if h.failed_step else "does not fit"
            ax.annotate(plain(f"{what} (+{alloc:,} B)" if alloc else what), (used + alloc, i),
                        xytext=(7, -11), textcoords="offset points", fontsize=8, color=FAILED,
                        va="center")
            _bar_label(ax, h.total, i, f"{h.total:,} B")
    _headroom(ax, top, 0.28)
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.set_xlabel("heap (B): used before the failure or at peak, of the total")


def _app_colour(app: str) -> str:
    return KNOWN["xmpp-message"] if app.startswith("xmpp") else (
        KNOWN["coap-get"] if app.startswith("coap") else "#8a8a8a")


def _shades(colour: str, n: int) -> list[str]:
    """n shades of one colour, darkest first, for the modules of one app."""
    return [lighter(colour, 0.65 * i / max(n - 1, 1)) for i in range(n)]


def spread_intervals(results: Results, colours: Mapping[str, str]) -> Plot | None:
    """(f) compare --repeat: each variant's median and interval over the repeats, per figure."""
    table = spreads(results)
    shown = [(k, label, unit) for k, label, unit in SHOWN
             if k != "delivered" and any(k in f for f in table.values())]
    if not table or not shown:
        return None
    names = list(table)
    with plot_style("plot-spread"):
        fig = new_figure(10.5, 1.1 + 0.33 * len(names) * ((len(shown) + 1) // 2))
        for i, (key, label, unit) in enumerate(shown):
            ax = fig.add_subplot((len(shown) + 1) // 2, 2, i + 1)
            for y, name in enumerate(names):
                s = table[name].get(key)
                if s is None:
                    continue
                ax.errorbar([s.median], [y], xerr=[[s.median - s.low], [s.high - s.median]],
                            fmt="o", color=colours.get(name, "#444444"), capsize=3,
                            markersize=4)
            ax.set_yticks(range(len(names)), [plain(n) for n in names] if i % 2 == 0
                          else [""] * len(names), fontsize=8)
            ax.set_ylim(-0.6, len(names) - 0.4)
            ax.invert_yaxis()
            ax.set_title(f"{label} ({unit})", loc="left", fontsize=9)
            ax.tick_params(axis="x", labelsize=8)
        svg = to_svg(fig, element_id="plot-spread")
    return Plot("plot-spread", "Spread over the repeats", spread_caption(results), svg)
