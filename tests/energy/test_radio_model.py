"""The radio model on hand-made activity logs, each figure computed by hand."""

from __future__ import annotations

import pytest

from testbed.energy.radio_model import (
    CHECK_S, INTERFRAME_S, PHASE_LOCK_GUARD_S, RdcMode, parse_mode, radio_times,
)
from testbed.errors import BadInput
from testbed.radio.activity import RadioActivity
from testbed.radio.phy import airtime


def act(node, kind, frame, start, dur, nbytes=0, seq=0, peer="", status="ok"):
    return RadioActivity(node, kind, frame, start, dur, nbytes, seq, peer, status)


T50 = airtime(50)   # (50 + 6) x 32 µs
T5 = airtime(5)     # an ACK: 352 µs


def unicast(start: float, seq: int = 1) -> list[RadioActivity]:
    """a -> b data frame (50 B) ACKed by b; c overhears both."""
    ack = start + T50 + 192e-6
    return [
        act("a", "backoff", "data", start - 0.001, 0.00064, seq=seq, status="wait"),
        act("a", "cca", "data", start - 0.0003, 128e-6, seq=-1, status="idle"),
        act("a", "tx", "data", start, T50, 50, seq, "b"),
        act("b", "rx", "data", start, T50, 50, seq, "a"),
        act("c", "rx", "data", start, T50, 50, seq, "a", "overheard"),
        act("a", "listen", "ack", start + T50, 192e-6, 0, seq, "b"),
        act("b", "tx", "ack", ack, T5, 5, seq, "a"),
        act("a", "rx", "ack", ack, T5, 5, seq, "b"),
        act("c", "rx", "ack", ack, T5, 5, seq, "b", "overheard"),
    ]


def test_airtime_is_psdu_plus_shr_phr_at_32_us_a_byte() -> None:
    assert airtime(5) == pytest.approx(352e-6)
    assert airtime(127) == pytest.approx(4.256e-3)


def test_always_on_tx_rx_listen_sum_to_the_span() -> None:
    times = radio_times(unicast(0.01), 1.0)
    a, b, c = times["a"], times["b"], times["c"]
    assert a.tx_s == pytest.approx(T50) and a.rx_s == pytest.approx(T5)
    assert b.tx_s == pytest.approx(T5) and b.rx_s == pytest.approx(T50)
    assert c.tx_s == 0 and c.rx_s == pytest.approx(T50 + T5)  # overheard frames cost too
    for t in times.values():
        assert t.sleep_s == 0
        assert t.tx_s + t.rx_s + t.listen_s == pytest.approx(1.0)


def test_overlapping_receptions_count_once_and_half_duplex_time_is_tx() -> None:
    rows = [
        act("c", "rx", "data", 0.0, 0.004, 119, 1, "a", "collision"),
        act("c", "rx", "data", 0.002, 0.004, 119, 1, "b", "collision"),
        act("c", "tx", "data", 0.005, 0.002, 56, 2, "a"),
    ]
    c = radio_times(rows, 1.0)["c"]
    assert c.tx_s == pytest.approx(0.002)
    assert c.rx_s == pytest.approx(0.005)   # [0, 6 ms) minus the tx [5, 7 ms)


def test_a_dropped_frame_has_no_air_time() -> None:
    rows = [act("a", "drop", "data", 0.1, 0.0, 50, 3, "b", "dropped")]
    assert radio_times(rows, 1.0)["a"].tx_s == 0


def test_contikimac_terms_by_hand() -> None:
    w, span = 0.125, 1.0
    rows = unicast(0.01, seq=1) + unicast(0.5, seq=2)
    times = radio_times(rows, span, mode="contikimac", wakeup_s=w)
    a, b, c = times["a"], times["b"], times["c"]
    checks = span / w * CHECK_S
    first = (w / 2 - T50) / (T50 + INTERFRAME_S)          # copies before the logged one
    locked = (PHASE_LOCK_GUARD_S) / (T50 + INTERFRAME_S)  # phase lock: guard time only
    assert a.terms["strobe_tx_s"] == pytest.approx((first + locked) * T50)
    assert a.tx_s == pytest.approx(2 * T50 + (first + locked) * T50)
    assert a.terms["channel_checks_s"] == pytest.approx(checks)
    assert a.listen_s == pytest.approx(checks + (first + locked) * INTERFRAME_S
                                       + 2 * 128e-6 + 2 * 192e-6)
    assert b.rx_s == pytest.approx(2 * T50)
    assert b.listen_s == pytest.approx(checks + 2 * (T50 / 2 + INTERFRAME_S))
    assert c.rx_s == pytest.approx(T50 * 0.5 + T50 * (PHASE_LOCK_GUARD_S + T50) / w)
    for t in times.values():
        assert t.tx_s + t.rx_s + t.listen_s + t.sleep_s == pytest.approx(span)
        assert t.sleep_s > 0.9


def test_contikimac_broadcast_and_no_ack_strobe_a_full_interval() -> None:
    w = 0.125
    rows = [act("a", "tx", "data", 0.0, T50, 50, 1, "broadcast"),
            act("a", "tx", "data", 0.3, T50, 50, 2, "b", "no-ack")]
    a = radio_times(rows, 1.0, mode=RdcMode.CONTIKIMAC, wakeup_s=w, phase_lock=False)["a"]
    assert a.terms["strobe_tx_s"] == pytest.approx(2 * (w - T50) / (T50 + INTERFRAME_S) * T50)


def test_contikimac_idle_node_is_asleep_but_for_its_checks() -> None:
    t = radio_times([], 10.0, mode="contikimac", nodes=["s1"])["s1"]
    assert t.listen_s == pytest.approx(80 * CHECK_S) and t.tx_s == t.rx_s == 0


def test_bad_modes_and_spans_are_bad_input() -> None:
    with pytest.raises(BadInput, match="unknown radio duty-cycling mode 'xmac'"):
        parse_mode("xmac")
    with pytest.raises(BadInput, match="span must be positive"):
        radio_times([], 0.0)


def test_rows_beyond_the_span_are_clipped_so_states_sum_to_the_span() -> None:
    """A frame the medium finished after its clock stopped counts only inside the run."""
    from testbed.energy.radio_model import radio_times
    from testbed.radio.activity import RadioActivity

    rows = [RadioActivity("a", "tx", "data", 0.9, 0.3, 100, 1, "b", "ok"),
            RadioActivity("a", "rx", "data", -0.1, 0.2, 50, 2, "b", "ok")]
    t = radio_times(rows, 1.0)["a"]
    assert t.tx_s == pytest.approx(0.1) and t.rx_s == pytest.approx(0.1)
    assert t.tx_s + t.rx_s + t.listen_s + t.sleep_s == pytest.approx(1.0)
