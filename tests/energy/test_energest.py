"""simple-energest period summaries: good blocks kept, bad lines named with their number."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.energy.energest import parse_energest
from testbed.errors import BadInput

PREFIX = "[INFO: Energest  ] "


def block(n: int, total: int = 1966080, cpu: int = 19660, lpm: int = 1946420, tx: int = 3276,
          rx: int = 32768, prefix: str = PREFIX) -> list[str]:
    """What simple-energest.c prints for one period (its LOG_INFO format strings)."""
    def f(name: str, delta: int) -> str:
        return f"{prefix}{name:<12}: {delta:>10}/{total:>10} ({1000 * delta // total} permil)"
    return [f"{prefix}--- Period summary #{n} ({total // 32768} seconds)",
            f"{prefix}Total time  : {total:>10}", f("CPU", cpu), f("LPM", lpm),
            f("Deep LPM", 0), f("Radio Tx", tx), f("Radio Rx", rx), f("Radio total", tx + rx)]


def test_one_period_in_seconds() -> None:
    report = parse_energest("\n".join(block(0)))
    (p,) = report.periods
    assert (p.number, p.line, p.total_s) == (0, 1, 60.0)
    assert p.cpu_s == pytest.approx(19660 / 32768) and p.rx_s == 1.0
    assert p.tx_s == 3276 / 32768
    assert report.skipped == ()


def test_ticks_per_second_is_the_platforms() -> None:
    (p,) = parse_energest("\n".join(block(0, total=62500 * 10)), ticks_per_second=62500).periods
    assert p.total_s == 10.0
    with pytest.raises(BadInput, match="ticks_per_second"):
        parse_energest("", ticks_per_second=0)


def test_noise_missing_fields_and_truncated_lines() -> None:
    lines = (["boot: Contiki-NG", "garbage \x00\xff ###"] + block(0)
             + block(1)[:3] + [PREFIX + "LPM         :    19464"]   # #1: truncated, no Rx...
             + ["coap: reading 3 sent"] + block(2, prefix="")
             + [PREFIX + "Radio Rx    :      32768/   1966080 (16 permil)"])
    report = parse_energest("\n".join(lines))
    assert [p.number for p in report.periods] == [0, 2]
    reasons = {s.line: s.reason for s in report.skipped}
    assert reasons[14] == "truncated or garbled Energest line"
    assert reasons[11] == "period #1 misses LPM, Deep LPM, Radio Tx, Radio Rx"
    assert reasons[len(lines)] == "Energest field outside a period summary"
    assert report.ignored_lines == 3
    assert report.totals()["total_s"] == 120.0


def test_a_field_whose_period_disagrees_with_total_time_is_skipped() -> None:
    lines = block(0)
    lines[2] = PREFIX + "CPU         :      19660/   1966081 (10 permil)"
    report = parse_energest("\n".join(lines))
    assert report.periods == ()
    assert any("period 1966081 != total time 1966080" in s.reason for s in report.skipped)


garbage = st.lists(st.one_of(
    st.text(max_size=40),
    st.sampled_from(["Radio Tx :", "--- Period summary #", "CPU : 1/", "Total time  : x",
                     PREFIX + "LPM :    1/", "\r", ""])), max_size=6).map("\n".join)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_crashes(text: str) -> None:
    parse_energest(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(garbage, min_size=3, max_size=3))
def test_good_periods_survive_any_garbage_between_them(noise: list[str]) -> None:
    good = [block(0), block(1, cpu=1000), block(2, tx=10)]
    text = "\n".join([noise[0], *good[0], noise[1], *good[1], noise[2], *good[2]])
    periods = parse_energest(text).periods
    assert [p.number for p in periods] == [0, 1, 2]
    assert periods[1].cpu_s == pytest.approx(1000 / 32768)


def test_a_number_longer_than_a_64_bit_counter_is_a_garbled_line() -> None:
    # fuzz_parsers.py: int() of a 5000-digit "Total time" raised ValueError out of the parser
    # (and 400 digits would overflow the division into seconds)
    lines = block(1)
    lines[1] = f"{PREFIX}Total time  : {'9' * 5000}"
    report = parse_energest("\n".join(lines))
    assert report.periods == ()
    assert "truncated or garbled Energest line" in {s.reason for s in report.skipped}
