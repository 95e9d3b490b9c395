"""summary.md: the run in Markdown for a CI job summary (GitHub's $GITHUB_STEP_SUMMARY,
GitLab's Markdown reports): the run line, the verdict in words, the verdict table, memory
lines and the captures.

Job summaries render HTML inside Markdown, so every string from results.json (an error, a
variant name) is escaped before it reaches a table cell (`md`), or shown literally in a code
span (`code`: a file name, the command that runs the comparison again).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from testbed.report.columns import COLUMNS, figure_text, row_digits, size_text
from testbed.report.model import (
    DISCOVERY_WHAT, ENERGEST_WHAT, MEASURED_WHAT, discovery_rows, energest_rows,
    firmware_caption, firmware_tables, measured_rows, memory_lines, ms, ms_range, num,
    outcome_counts, pct, phase_cell, run_line, table_caption, variant_figures,
)
from testbed.report.rundir import RunFiles, read_run
from testbed.report.spread import spread_caption, spread_rows
from testbed.report.verdict import verdict_lines

if TYPE_CHECKING:
    from testbed.report.delta import RunDelta


def md(text: object) -> str:
    """A string safe in a Markdown table cell: no HTML, no column break, one line."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\r", " ").replace("\n", " "))


def code(text: object) -> str:
    """A code span: its content is shown literally (no HTML inside one, so no escaping, which
    would show `&lt;` as it is); a backtick would end it early and goes, and so do line breaks."""
    inner = str(text).replace("`", "").replace("\r", " ").replace("\n", " ").strip()
    return f"`{inner}`" if inner else ""


def summary_markdown(run_dir: Path) -> str:
    """The Markdown summary of the run in `run_dir` (BadInput if results.json is bad)."""
    return markdown_of(read_run(Path(run_dir)))


def markdown_of(run: RunFiles) -> str:
    results = run.results
    lines = [f"### XMPP vs CoAP: run {md(results.run_id)} on topology {md(results.topology)}",
             "", md(run_line(run)), ""]
    lines += [f"**Verdict.** {md(' '.join(verdict_lines(results)))}", ""]
    lines += table_markdown(run)
    lines += ["", f"<sub>{md(table_caption(results))}</sub>", ""]
    lines += spread_markdown(results)
    lines += [f"- {md(line)}" for line in memory_lines(results.memory)]
    lines += firmware_markdown(results.memory)
    lines += energest_markdown(run)
    lines += measured_markdown(run)
    lines += discovery_markdown(run)
    if run.manifest and run.manifest.reproduce and code(run.manifest.reproduce):
        lines += ["", f"Run it again: {code(run.manifest.reproduce)}"]
    if run.captures:
        lines += ["", "Captures (open in Wireshark): " + ", ".join(
            f"{code(c.name)} ({c.frames} frames, " + (
                size_text(c.size_bytes) if c.size_bytes is not None else "not in the run directory")
            + ")" for c in run.captures)]
    if run.tests:
        lines += ["", f"Tests: {md(outcome_counts(run))}"]
    for note in run.notes:
        lines += ["", f"> {md(note)}"]
    return "\n".join(lines).rstrip() + "\n"


def spread_markdown(results) -> list[str]:
    rows = spread_rows(results)
    if not rows:
        return []
    lines = ["| variant | figure | median [interval] |", "|---|---|---:|"]
    lines += [f"| {md(n)} | {md(f)} | {md(t)} |" for n, f, t in rows]
    return [*lines, "", f"<sub>{md(spread_caption(results))}</sub>", ""]


def firmware_markdown(memory) -> list[str]:
    """A table per C app built for a board: its modules' ROM, RAM and share of the ROM."""
    tables = firmware_tables(memory)
    if not tables:
        return []
    lines = ["", f"**Memory of the C apps on a board.** {md(firmware_caption(memory))}"]
    for t in tables:
        lines += ["", f"*{md(t.line)}*"]
        if t.error:
            continue
        lines += ["", "| module | ROM B | RAM B | share of ROM |", "|---|---:|---:|---:|"]
        lines += [f"| {md(r.module)} | {r.rom:,} | {r.ram:,} | {r.share:.1f} % |"
                  for r in t.modules]
        lines += [f"| total | {t.rom:,} | {t.ram:,} | {100 * t.rom / t.rom_class:.1f} % of "
                  f"{t.rom_class // 1024} KB |"]
        if t.xmpp_modules:
            lines += ["", "| XMPP client module | ROM B | RAM B | share of ROM |",
                      "|---|---:|---:|---:|"]
            lines += [f"| {md(r.module)} | {r.rom:,} | {r.ram:,} | {r.share:.1f} % |"
                      for r in t.xmpp_modules]
        lines += ["", md(t.stack)]
    return lines


def energest_markdown(run: RunFiles) -> list[str]:
    """Each Contiki node's Energest TX and radio-on next to the medium's, with the difference."""
    rows = energest_rows(run.results)
    if not rows:
        return []
    lines = ["", f"**Energest next to the medium.** {md(ENERGEST_WHAT)}", "",
             "| variant | node | window s | TX Energest ms | TX medium ms | TX Δ ms | TX Δ % "
             "| TX medium, boot bounds ms | radio on Energest s | radio on medium s | on Δ % |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in rows:
        if e.error:
            lines.append(f"| {md(e.variant)} | {md(e.node)} | {md(e.error)} |||||||||")
            continue
        lines.append(f"| {md(e.variant)} | {md(e.node)} | {e.window_s:.1f} "
                     f"| {ms(e.energest_tx_s)} | {ms(e.medium_tx_s)} | {ms(e.tx_diff_s)} "
                     f"| {pct(e.tx_diff_pct)} | {ms_range(e.medium_tx_range_s)} "
                     f"| {e.energest_on_s:.3f} | {e.medium_on_s:.3f} | {pct(e.on_diff_pct)} |")
    return lines


def measured_markdown(run: RunFiles) -> list[str]:
    """What the lab's power meters measured, per metered node (a measurement, not a model)."""
    rows = measured_rows(run.results)
    if not rows:
        return []
    lines = ["", f"**Energy measured on the boards.** {md(MEASURED_WHAT)}", "",
             "| variant | node | mJ | mean mA | over s | samples | gaps | meter |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for m in rows:
        mj = "-" if m.joules is None else f"{m.joules * 1000:,.3f}"
        ma = "-" if m.mean_ma is None else f"{m.mean_ma:.3f}"
        over = "-" if m.duration_s is None else f"{m.duration_s:.1f}"
        note = f"{m.source}; {m.error}" if m.error else m.source
        lines.append(f"| {md(m.variant)} | {md(m.node)} | {mj} | {ma} | {over} | {m.samples} "
                     f"| {m.gaps} | {md(note)} |")
    return lines


def discovery_markdown(run: RunFiles) -> list[str]:
    """How the sensors found their server or peer, and what it cost on the air."""
    rows = discovery_rows(run.results)
    if not rows:
        return []
    lines = ["", f"**Discovery.** {md(DISCOVERY_WHAT)}", "",
             "| variant | found | p50 ms | max ms | frames | bytes | moves | serverless | "
             "server |", "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for d in rows:
        lines.append(f"| {md(d.variant)} | {md(d.found)} | {num(d.found_p50_ms)} "
                     f"| {num(d.found_max_ms)} | {d.frames:,} | {d.bytes:,} | {d.moves} "
                     f"| {phase_cell(d.serverless)} | {phase_cell(d.server)} |")
    return lines


def table_markdown(run: RunFiles) -> list[str]:
    return results_table_markdown(run.results)


def results_table_markdown(results) -> list[str]:
    rows = variant_figures(results)
    head = "| " + " | ".join(c.header for c in COLUMNS) + " |"
    rule = "|" + "|".join("---:" if c.numeric else "---" for c in COLUMNS) + "|"
    body = ["| " + " | ".join(md(c.cell(f)) for c in COLUMNS) + " |" for f in rows]
    errors = [f"- **{md(f.name)}**: {md(f.error)}" for f in rows if f.error]
    return [head, rule, *body] + (["", *errors] if errors else [])


def delta_markdown(delta: RunDelta) -> str:
    lines = [f"### A: {md(delta.a.title)} → B: {md(delta.b.title)}", ""]
    lines += [f"> {md(n)}" for n in delta.notes] + ([""] if delta.notes else [])
    lines += ["| variant | figure | A | B | Δ | Δ % | |", "|---|---|---:|---:|---:|---:|---|"]
    for v in delta.variants:
        for f in v.figures:
            d = row_digits(f.a, f.b, f.delta)
            lines.append(
                f"| {md(v.variant)} | {md(f.label)} ({md(f.unit)}) | {figure_text(f.a, d)} "
                f"| {figure_text(f.b, d)} | {figure_text(f.delta, d, signed=True)} | {f.pct_text} "
                f"| {f.change} |")
    if delta.only_a:
        lines += ["", "Only in A: " + ", ".join(md(n) for n in delta.only_a)]
    if delta.only_b:
        lines += ["", "Only in B: " + ", ".join(md(n) for n in delta.only_b)]
    return "\n".join(lines) + "\n"
