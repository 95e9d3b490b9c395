"""The verdict in words, computed from the figures: which variant costs least on the air and
in energy, by what ratio XMPP costs more than CoAP, whether readings were lost, whether the
apps fit a real MicroPython heap.

Plain sentences without markup; markdown.py and html.py show them as they are. Nothing here
is a hard-coded conclusion: a run where XMPP wins says so. Only variants that delivered every
reading they sent are ranked (a lossy one only when no variant did, and then named with its
losses); a figure only one variant has is stated, not ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from testbed.energy.report import contikimac_figures
from testbed.experiment.results import Results
from testbed.report.spread import spread_verdict
from testbed.report.model import (
    COAP, XMPP, VariantFigures, energy_settings, variant_figures,
)

SIMILAR = 0.05  # figures within 5 % of each other are "hardly different"

Get = Callable[[VariantFigures], float | None]


def verdict_lines(results: Results) -> list[str]:
    figures = variant_figures(results)
    if not figures:
        return ["No variant finished: nothing to compare."]
    lines = [_delivery(figures), _bytes(figures), _energy(results, figures),
             _duty_cycled(results, figures), _memory(figures)]
    return [line for line in lines if line] + spread_verdict(results)


def _candidates(figures: Sequence[VariantFigures], get: Get, protocol: str | None = None
                ) -> list[tuple[VariantFigures, float]]:
    """The variants a figure ranks: those that delivered everything they sent (a variant that
    lost readings did less work, so its cost per reading is no win); only when none did, the
    lossy ones, which `_name` marks. A failed variant never ranks."""
    usable = [(f, v) for f in figures if f.status != "failed" and (v := get(f)) is not None
              and (protocol is None or f.protocol == protocol)]
    return [(f, v) for f, v in usable if f.status == "ok"] or usable


def _best(figures: Sequence[VariantFigures], get: Get,
          protocol: str | None = None) -> tuple[VariantFigures, float] | None:
    found = _candidates(figures, get, protocol)
    return min(found, key=lambda fv: fv[1]) if found else None


def _xmpp_and_coap(figures: Sequence[VariantFigures], get: Get
                   ) -> tuple[tuple[VariantFigures, float], tuple[VariantFigures, float]] | None:
    """The best XMPP and the best CoAP variant by `get`, when both exist and CoAP's figure
    can divide (> 0): what an "XMPP costs n× CoAP" sentence compares."""
    xmpp, coap = _best(figures, get, XMPP), _best(figures, get, COAP)
    return (xmpp, coap) if xmpp and coap and coap[1] > 0 else None


def _name(f: VariantFigures) -> str:
    """The variant's name, with its losses if it did not deliver everything it sent."""
    if f.status != "lossy":
        return f.name
    return (f"{f.name} (lossy: {f.delivered}/{f.sent} delivered"
            + (", timed out)" if f.timed_out else ")"))


def _delivery(figures: Sequence[VariantFigures]) -> str:
    failed = [f.name for f in figures if f.status == "failed"]
    lossy = [f"{f.name} {f.delivered}/{f.sent}" + (" (timed out)" if f.timed_out else "")
             for f in figures if f.status == "lossy"]
    if not failed and not lossy:
        if len(figures) == 1:
            return f"{figures[0].name} delivered all {figures[0].delivered} readings it sent."
        counts = sorted({f.delivered for f in figures})
        each = f"all {counts[0]}" if len(counts) == 1 else "all"
        return f"Every variant delivered {each} readings it sent."
    parts = []
    if lossy:
        parts.append("lost readings: " + ", ".join(lossy))
    if failed:
        parts.append("failed: " + ", ".join(failed))
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _bytes(figures: Sequence[VariantFigures]) -> str:
    found = _candidates(figures, lambda f: f.steady_bytes_per_reading)
    if not found:
        return ""
    f, value = min(found, key=lambda fv: fv[1])
    frames = f" ({f.frames_per_reading:.1f} frames)" if f.frames_per_reading else ""
    if len(found) == 1:  # nothing to rank it against
        return (f"{_name(f)} costs {value:,.0f} B per reading on the air in steady "
                f"state{frames}.")
    line = (f"{_name(f)} costs the fewest bytes per reading: {value:,.0f} B on the air in "
            f"steady state{frames}.")
    if steady := _xmpp_and_coap(figures, lambda f: f.steady_bytes_per_reading):
        xmpp, coap = steady
        line += (f" The leanest XMPP variant ({_name(xmpp[0])}, {xmpp[1]:,.0f} B) costs "
                 f"{xmpp[1] / coap[1]:.1f}× the leanest CoAP variant ({_name(coap[0])}, "
                 f"{coap[1]:,.0f} B).")
        if all_in := _xmpp_and_coap(figures, lambda f: f.all_in_bytes_per_reading):
            xa, ca = all_in
            line += (f" With set-up, ACKs and retries (all-in: every byte on the air, PHY "
                     f"included, per delivered reading): {xa[1]:,.0f} B ({_name(xa[0])}) "
                     f"against {ca[1]:,.0f} B ({_name(ca[0])}), {xa[1] / ca[1]:.1f}×.")
    return line


def _energy(results: Results, figures: Sequence[VariantFigures]) -> str:
    found = _candidates(figures, lambda f: f.energy_mj_per_reading)
    if not found:
        return ""
    low = min(found, key=lambda fv: fv[1])
    high = max(found, key=lambda fv: fv[1])
    if len(found) == 1:  # nothing to rank it against
        return (f"{_name(low[0])} needs {low[1]:.1f} mJ of radio time per reading (its own TX "
                f"and RX, the idle floor apart).")
    if low[1] > 0 and (high[1] - low[1]) / low[1] < SIMILAR:
        return (f"Radio time per reading hardly differs: {low[1]:.1f} to {high[1]:.1f} mJ "
                f"across variants ({(high[1] - low[1]) / low[1]:.1%}).")
    line = (f"{_name(low[0])} needs the least radio time per reading: {low[1]:.1f} mJ "
            f"(its own TX and RX, the idle floor apart).")
    if both := _xmpp_and_coap(figures, lambda f: f.energy_mj_per_reading):
        xmpp, coap = both
        line += (f" XMPP at best {xmpp[1]:.1f} mJ ({_name(xmpp[0])}), CoAP {coap[1]:.1f} mJ "
                 f"({_name(coap[0])}): {xmpp[1] / coap[1]:.2f}×.")
    return line


def _duty_cycled(results: Results, figures: Sequence[VariantFigures]) -> str:
    """The energy headline once listening stops dominating: the ContikiMAC model's mJ per
    reading, best XMPP against best CoAP (a model; the caption says of what)."""
    get: Get = lambda f: f.energy_duty_mj_per_reading  # noqa: E731
    both = _xmpp_and_coap(figures, get)
    if both is None:
        return ""
    (xmpp, xv), (coap, cv) = both
    wakeup = contikimac_figures(energy_settings(results) or {}).get("wakeup_ms")
    at = f", {wakeup:g} ms wake-ups" if isinstance(wakeup, (int, float)) else ""
    return (f"With a duty-cycled radio (ContikiMAC model{at}) the protocols' own radio time "
            f"decides: {_name(coap)} needs {cv:.1f} mJ per reading, {_name(xmpp)} at best "
            f"{xv:.1f} mJ ({xv / cv:.1f}×).")


def _memory(figures: Sequence[VariantFigures]) -> str:
    apps = {f.app: f for f in figures if f.app}
    parts = []
    sizes = {a: f.bytecode_bytes for a, f in apps.items() if f.bytecode_bytes}
    if len(sizes) == 2:
        (a, sa), (b, sb) = sorted(sizes.items(), key=lambda kv: kv[1])
        parts.append(f"bytecode {b} {sb:,} B against {a} {sa:,} B ({sb / sa:.1f}×)")
    for app, f in apps.items():
        h = f.heap
        heap = f"the {h.total:,} B heap of {h.platform}" if h.total else f"the heap of {h.platform}"
        if h.fits is True:
            uses = f" (uses {h.used:,} B)" if h.used is not None else ""
            parts.append(f"{app} fits {heap}{uses}")
        elif h.fits is False:
            where = f" ({h.failed_step})" if h.failed_step else ""
            parts.append(f"{app} does not fit {heap}{where}")
    if not parts:
        return ""
    return "Memory: " + "; ".join(parts) + "."
