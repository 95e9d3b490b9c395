"""A real Contiki node's Energest next to the medium's radio log.

The fixture is a real run's files (tests/energy/data/contiki-coap-get/: sensor s1's console,
its rows of radio.csv and the medium's clock), made with `testbed compare --platform contiki
--variants coap-get --readings 3`. The expected sums are computed here from the raw console
text with a regex of our own, not with the parser under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.energy.energest import parse_energest
from testbed.energy.energest_medium import (MEDIUM_TICKS_PER_SECOND, boot_bounds,
                                            compare_energest,
                                            console_anchors, medium_in_window)
from testbed.radio.activity import RadioActivity, read_activity

RUN = Path(__file__).parent / "data" / "contiki-coap-get"
CONSOLE = RUN / "logs" / "s1.console"


def raw_sums(text: str) -> dict[str, int]:
    """Σ of each field's first number over the console, by a plain regex (the oracle)."""
    sums: dict[str, int] = {}
    for name, value in re.findall(r"\] (Total time|CPU|LPM|Deep LPM|Radio Tx|Radio Rx)\s*:"
                                  r"\s*(\d+)", text):
        sums[name] = sums.get(name, 0) + int(value)
    return sums


def medium_clock() -> tuple[float, float]:
    medium = json.loads((RUN / "medium.json").read_text())
    return medium["t0_unix"], medium["duration_s"]


def test_the_real_consoles_sums_are_the_lines_numbers() -> None:
    text = CONSOLE.read_text()
    raw = raw_sums(text)
    assert raw["Total time"] > 0 and text.count("Period summary") == 2
    report = parse_energest(text, ticks_per_second=MEDIUM_TICKS_PER_SECOND)
    totals = report.totals()
    us = 1e6
    assert len(report.periods) == 2 and report.skipped == ()
    assert totals["total_s"] == pytest.approx(raw["Total time"] / us, abs=1e-9)
    assert totals["tx_s"] == pytest.approx(raw["Radio Tx"] / us, abs=1e-9)
    assert totals["rx_s"] == pytest.approx(raw["Radio Rx"] / us, abs=1e-9)
    assert totals["cpu_s"] == pytest.approx(raw["CPU"] / us, abs=1e-9)
    assert totals["lpm_s"] == pytest.approx(raw["LPM"] / us, abs=1e-9)


def test_results_json_entry_of_the_real_node() -> None:
    t0, span = medium_clock()
    rows = read_activity(RUN / "radio.csv")
    section = compare_energest(RUN, rows, t0_unix=t0, span_s=span)
    assert section is not None and set(section["nodes"]) == {"s1"}
    s1 = section["nodes"]["s1"]
    raw = raw_sums(CONSOLE.read_text())
    assert s1["periods"] == 2
    assert s1["window_s"] == pytest.approx(raw["Total time"] / 1e6, abs=1e-6)
    assert s1["energest"]["tx_s"] == pytest.approx(raw["Radio Tx"] / 1e6, abs=1e-6)
    assert s1["energest"]["lpm_s"] == pytest.approx((raw["LPM"] + raw["Deep LPM"]) / 1e6,
                                                    abs=1e-6)
    boot = s1["boot_s"]
    assert boot["aligned"] and boot["earliest"] <= boot["estimate"] <= boot["latest"]
    # an event printed before the last summary happened before boot + window, one after it
    # after: the bounds hold every event of the console
    text = CONSOLE.read_text()
    last = max(i for i, line in enumerate(text.splitlines(), 1) if "Period summary" in line)
    anchors = console_anchors(text)
    assert {a.line < last for a in anchors} == {True, False}  # events on both sides
    for a in anchors:
        if a.line < last:
            assert boot["earliest"] >= a.t_unix - t0 - s1["window_s"] - 1e-6
        else:
            assert boot["latest"] <= a.t_unix - t0 - s1["window_s"] + 1e-6
    # the medium's TX in the window, from the rows directly: airtime of s1's tx rows inside it
    start, end = boot["estimate"], boot["estimate"] + s1["window_s"]
    airtime = sum(min(r.start_s + r.duration_s, end) - max(r.start_s, start) for r in rows
                  if r.node == "s1" and r.kind == "tx" and r.start_s < end
                  and r.start_s + r.duration_s > start)
    assert s1["medium"]["tx_s"] == pytest.approx(airtime, abs=1e-6)
    lo, hi = s1["medium_tx_s_range"]
    assert lo <= s1["medium"]["tx_s"] <= hi
    diff = s1["difference"]
    assert diff["tx_s"] == pytest.approx(s1["energest"]["tx_s"] - s1["medium"]["tx_s"], abs=2e-6)
    assert diff["tx_pct"] == pytest.approx(100 * diff["tx_s"] / s1["medium"]["tx_s"], abs=0.05)
    # the driver waits on the whole exchange (CCA, turnaround, ACK): more than the airtime
    assert diff["tx_s"] > 0


def test_a_linux_run_has_no_energest_section(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "s1.log").write_text("a Linux node's log\n")
    assert compare_energest(tmp_path, [], t0_unix=0.0, span_s=10.0) is None


def test_a_node_without_a_complete_period_says_so(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "s1.console").write_text(
        "[INFO: Energest  ] --- Period summary #0 (10 seconds)\n"
        "[INFO: Energest  ] Total time  :   10000533\n")
    entry = compare_energest(tmp_path, [], t0_unix=0.0, span_s=30.0)["nodes"]["s1"]
    assert entry["periods"] == 0 and "no complete Energest period" in entry["error"]


def test_the_window_cuts_the_medium_rows() -> None:
    rows = [RadioActivity("n", "tx", "data", 1.0, 0.004, 50, 1, "m", "ok"),
            RadioActivity("n", "tx", "data", 9.998, 0.004, 50, 2, "m", "ok"),
            RadioActivity("n", "rx", "data", 5.0, 0.002, 50, 3, "m", "ok")]
    times = medium_in_window(rows, "n", 2.0, 8.0)   # [2, 10]: half of the second frame
    assert times.tx_s == pytest.approx(0.002) and times.rx_s == pytest.approx(0.002)
    assert times.on_s == pytest.approx(8.0)


FIELDS = ("CPU", "LPM", "Deep LPM", "Radio Tx", "Radio Rx")


def medium_block(n: int, total: int, values: dict[str, int]) -> list[str]:
    """One period as the medium platform prints it (microseconds, %10lu)."""
    def line(name: str, v: int) -> str:
        return f"[INFO: Energest  ] {name:<12}: {v:>10}/{total:>10} ({1000 * v // total} permil)"
    return ([f"[INFO: Energest  ] --- Period summary #{n} ({total // 10**6} seconds)",
             f"[INFO: Energest  ] Total time  : {total:>10}"]
            + [line(f, values[f]) for f in FIELDS]
            + [line("Radio total", values["Radio Tx"] + values["Radio Rx"])])


period = st.integers(min_value=1, max_value=10**12).flatmap(
    lambda total: st.tuples(st.just(total), st.fixed_dictionaries(
        {f: st.integers(min_value=0, max_value=total) for f in FIELDS})))


@settings(max_examples=60, deadline=None)
@given(st.lists(period, max_size=6), st.lists(st.text(max_size=40), max_size=4))
def test_the_parser_sums_every_period_the_console_prints(periods, noise) -> None:
    lines: list[str] = []
    for i, (total, values) in enumerate(periods):
        lines += [n.replace("Period", "P") for n in noise[:1]]   # a node's own line between
        lines += medium_block(i, total, values)
    report = parse_energest("\n".join(lines), ticks_per_second=MEDIUM_TICKS_PER_SECOND)
    assert len(report.periods) == len(periods)
    totals = report.totals()
    us = MEDIUM_TICKS_PER_SECOND
    assert totals["total_s"] == pytest.approx(sum(t for t, _ in periods) / us)
    assert totals["tx_s"] == pytest.approx(sum(v["Radio Tx"] for _, v in periods) / us)
    assert totals["rx_s"] == pytest.approx(sum(v["Radio Rx"] for _, v in periods) / us)


@settings(max_examples=80, deadline=None)
@given(boot=st.floats(min_value=0.0, max_value=30.0),
       totals=st.lists(st.integers(min_value=9_000_000, max_value=11_000_000), min_size=1,
                       max_size=5),
       tail=st.floats(min_value=0.0, max_value=0.95),
       events=st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=8),
       first=st.floats(min_value=0.0, max_value=40.0))
def test_the_boot_bounds_hold_the_true_boot(boot, totals, tail, events, first) -> None:
    """A console written by a node that booted at `boot` (medium time): summaries at boot +
    end_k, its events in time order between them, killed `tail` of a period after the last;
    the bounds must contain `boot`, whatever the events and the node's first frame."""
    t0 = 1_000_000.0
    ends, end = [], 0.0
    for total in totals:
        end += total / 1e6
        ends.append(end)
    life = end + tail * min(totals) / 1e6
    timed = [("summary", boot + e, k) for k, e in enumerate(ends)]
    timed += [("event", boot + f * life, 0) for f in events]
    lines: list[str] = []
    for kind, t, k in sorted(timed, key=lambda x: (x[1], x[0] == "event")):
        if kind == "summary":
            values = {"CPU": 1, "LPM": totals[k] - 1, "Deep LPM": 0, "Radio Tx": 0,
                      "Radio Rx": totals[k]}
            lines += medium_block(k, totals[k], values)
        else:
            lines.append(json.dumps({"event": "reading", "t": t0 + t}))
    text = "\n".join(lines)
    report = parse_energest(text, ticks_per_second=MEDIUM_TICKS_PER_SECOND)
    lo, hi = boot_bounds(report, console_anchors(text), t0_unix=t0, span_s=boot + life,
                         first_activity_s=boot + first)
    assert lo - 1e-6 <= boot <= hi + 1e-6
