"""The mDNS study's report: report.html (plots of traffic, discovery time and collisions against
N per mechanism set, the fitted growth, every point) and summary.md, from its results.json.

Each plotted figure is the mean over seeds with the seeds' range as error bars, on log-log
axes with the fitted power law y = a N^b drawn as a dashed line; the growth table reads b.
Reads the run directory only; measures nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.report.plot import Plot, plain

RESULTS = "results.json"

SERIES_FIGURES: dict[str, tuple[str, str, Callable[[Mapping[str, Any]], Any]]] = {
    # id -> (title, y label, figure of a point)
    "plot-study-bytes": ("mDNS bytes on the air in the start-up window, all nodes",
                         "bytes (PSDU) in the first 10 s",
                         lambda p: p["air"]["startup"]["bytes"]),
    "plot-study-time": ("Time until a node knows every peer it can hear (p95 over nodes)",
                        "seconds", lambda p: p["discovery_s"]["p95"]),
    "plot-study-collisions": ("Frames lost to collisions (the medium's count)",
                              "collisions", lambda p: p["collisions"]),
}
FIT_OF = {"plot-study-bytes": "total startup bytes", "plot-study-time": "discovery time p95 s",
          "plot-study-collisions": "collisions"}


def read_study(directory: Path) -> dict[str, Any]:
    path = directory / RESULTS if directory.is_dir() else directory
    try:
        data = json.loads(path.read_text())
        if data.get("study") != "mdns" or not isinstance(data.get("points"), dict) or \
                not isinstance(data.get("sweep"), dict):
            raise ValueError("not an mDNS study")
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not an mDNS study's results.json ({exc})") from exc
    data["sweep"].setdefault("transports", ["link"])  # a study from before MPL
    for g in data.get("growth", []):
        g.setdefault("transport", "link")
        g.setdefault("platform", "linux")  # a study from before Contiki points
    return data


Series = tuple[str, str, str, float, str]  # density, transport, mechanisms, loss, platform


def series(study: Mapping[str, Any], get: Callable[[Mapping[str, Any]], Any]
           ) -> dict[Series, list[tuple[int, float, float, float]]]:
    """(density, transport, mechanisms, loss, platform) -> [(N, mean, min, max)] over seeds,
    by N."""
    groups: dict[Series, dict[int, list[float]]] = {}
    for p in study["points"].values():
        if "error" in p:
            continue
        value = get(p)
        if value is None:
            continue
        pt = p["point"]
        key = (pt["density"], pt.get("transport", "link"), pt["mechanisms"], float(pt["loss"]),
               pt.get("platform", "linux"))
        groups.setdefault(key, {}).setdefault(int(p["nodes"]), []).append(float(value))
    return {key: [(n, sum(v) / len(v), min(v), max(v)) for n, v in sorted(by_n.items())]
            for key, by_n in sorted(groups.items())}


def series_label(key: Series) -> str:
    density, transport, sets, loss, platform = key
    return " ".join([density, *(["over MPL"] if transport == "mpl" else []), sets,
                     *([f"loss {loss:g}"] if loss else []),
                     *(["on Contiki"] if platform == "contiki" else [])])


def loglog_plot(plot_id: str, title: str, ylabel: str, caption: str,
                data: Mapping[str, list[tuple[int, float, float, float]]],
                fits: Mapping[str, Mapping[str, Any]]) -> Plot:
    """One figure against N on log-log axes: a line with error bars per series (label ->
    [(N, mean, min, max)]) and its fitted power law dashed (label -> {a, b, growth})."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from testbed.report.svg import new_figure, plot_style, to_svg

    PLAIN = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    with plot_style(plot_id):
        fig = new_figure(10.5, 4.4)
        ax = fig.add_subplot()
        for label, rows in data.items():
            rows = [r for r in rows if r[1] > 0]  # nothing to draw on a log axis at 0
            if not rows:
                continue
            ns = [r[0] for r in rows]
            mean = [r[1] for r in rows]
            low = [m - max(r[2], m / 10) for m, r in zip(mean, rows, strict=True)]
            high = [r[3] - m for m, r in zip(mean, rows, strict=True)]
            line = ax.errorbar(ns, mean, yerr=[low, high], marker="o", capsize=3,
                               label=plain(label))
            fit = fits.get(label)
            if fit is not None and len(ns) > 1:
                xs = [ns[0], ns[-1]]
                ax.plot(xs, [fit["a"] * x ** fit["b"] for x in xs], linestyle="--",
                        color=line[0].get_color(), linewidth=1,
                        label=plain(f"  fit b={fit['b']:.2f} {fit['growth']}"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(PLAIN)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(sorted({r[0] for rows in data.values() for r in rows}))
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("nodes N (log)")
        ax.set_ylabel(plain(ylabel + " (log)"))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        svg = to_svg(fig, element_id=plot_id)
    return Plot(plot_id, title, caption, svg)


def study_plots(study: Mapping[str, Any]) -> list[Plot]:
    fits = {(g["density"], g.get("transport", "link"), g["mechanisms"], float(g["loss"]),
             g.get("platform", "linux"), g["figure"]): g for g in study.get("growth", [])}
    plots = []
    for plot_id, (title, ylabel, get) in SERIES_FIGURES.items():
        data = series(study, get)
        if not data:
            continue
        plots.append(loglog_plot(
            plot_id, title, ylabel, "Mean over seeds, bars: the seeds' range; dashed: the power "
            "law fitted on every point of the series (growth table).",
            {series_label(key): rows for key, rows in data.items()},
            {series_label(key): fit for key in data
             if (fit := fits.get((*key, FIT_OF[plot_id]))) is not None}))
    return plots


def point_rows(study: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, p in study["points"].items():
        if "error" in p:
            rows.append({"name": name, "error": p["error"]})
            continue
        d, per = p["discovery_s"], p["per_node"]
        rows.append({
            "name": name, "nodes": p["nodes"], "links": p["links"],
            "complete": f"{p['complete']}/{p['nodes']}",
            "known": f"{p['known_peers']}/{p['expected_peers']}",
            "p50": d["p50"], "p95": d["p95"], "max": d["max"],
            "startup_bytes": per["startup_bytes"], "steady_per_hour": per["steady_bytes_per_hour"],
            "collisions": p["collisions"], "tx_s": per["tx_s"], "energy_mj": per["energy_mj"],
            "error": None})
    return rows


def summary_markdown(study: Mapping[str, Any]) -> str:
    lines = [f"### mDNS study {study['run_id']}: {len(study['points'])} points, "
             f"{study['duration_s']:g} s each", "",
             "**Growth with N** (y = a N^b over every point of a series):", "",
             "| density | transport | nodes | loss | mechanisms | figure | b | R² | growth |",
             "|---|---|---|---:|---|---|---:|---:|---|"]
    for g in study.get("growth", []):
        lines.append(f"| {g['density']} | {g.get('transport', 'link')} "
                     f"| {g.get('platform', 'linux')} | {g['loss']:g} "
                     f"| {g['mechanisms']} | {g['figure']} "
                     f"| {g['b']:.2f} | {g['r2']:.2f} | {g['growth']} |")
    lines += ["", "| point | complete | peers known | p95 s | start-up B/node | collisions |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in point_rows(study):
        if r["error"]:
            lines.append(f"| {r['name']} | failed: {r['error']} | | | | |")
        else:
            lines.append(f"| {r['name']} | {r['complete']} | {r['known']} | {r['p95']} "
                         f"| {r['startup_bytes']} | {r['collisions']} |")
    return "\n".join(lines) + "\n"


def render_study(directory: Path) -> tuple[Path, Path]:
    """Write report.html and summary.md into the study's run directory."""
    from testbed.report.html import _page

    study = read_study(directory)
    html = _page("study.html.j2", study=study, plots=study_plots(study),
                 rows=point_rows(study), title=f"mDNS study {study['run_id']}")
    report = directory / "report.html"
    report.write_text(html)
    summary = directory / "summary.md"
    summary.write_text(summary_markdown(study))
    return report, summary
