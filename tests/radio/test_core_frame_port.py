"""The channel model's frame-port transmit, in virtual time: a radio's timeline, no MAC."""

from __future__ import annotations

import pytest

from testbed.lowpan.addresses import BROADCAST_SHORT
from testbed.radio import phy
from testbed.radio.frameport import TxStatus
from tests.radio.test_core import Recorder, data_frame


def port_core(rec: Recorder, links, ports=(1, 2, 3), **kw):
    done: list[tuple[float, int, TxStatus, int]] = []
    core = rec.core({1: "a", 2: "b", 3: "c"}, links, frame_ports=ports,
                    on_tx_done=lambda s, status, tag: done.append((core.now, s, status, tag)),
                    **kw)
    for short in ports:
        core.set_radio(short, True)
    return core, done


def test_acked_unicast_is_ok_at_the_end_of_the_ack_with_no_backoff() -> None:
    rec = Recorder()
    core, done = port_core(rec, [(1, 2, 1.0)])
    psdu = data_frame(core, 1, 2)
    core.transmit(1, psdu, dst=2, ack_request=True, cca=True, tag=9)
    core.run_until(1.0)
    tx_start = phy.CCA_S + phy.TURNAROUND_S  # no backoff: the node's CSMA did it
    ack_end = tx_start + phy.airtime(len(psdu)) + phy.TURNAROUND_S + phy.airtime(phy.ACK_PSDU)
    assert [t for t, _ in rec.air] == pytest.approx([tx_start, ack_end - phy.airtime(5)])
    assert done == [(pytest.approx(ack_end), 1, TxStatus.OK, 9)]
    assert not rec.rows("a", "backoff")


def test_noack_after_mac_ack_wait_duration_and_no_retry() -> None:
    rec = Recorder()
    core, done = port_core(rec, [(1, 2, 0.0)])
    psdu = data_frame(core, 1, 2)
    core.transmit(1, psdu, dst=2, ack_request=True, cca=False)
    core.run_until(1.0)
    end = phy.TURNAROUND_S + phy.airtime(len(psdu)) + phy.MAC_ACK_WAIT_S
    assert done == [(pytest.approx(end), 1, TxStatus.NOACK, 0)]
    assert len(rec.air) == 1 and core.stats.retries == 0
    core.transmit(1, psdu, dst=2, ack_request=True, cca=False)  # its MAC retries
    core.run_until(2.0)
    assert core.stats.retries == 1 and [r.status for r in rec.rows("a", "tx")] == ["no-ack"] * 2


def test_busy_cca_is_collision_at_its_end_and_nothing_is_sent() -> None:
    rec = Recorder()
    core, done = port_core(rec, [(1, 2, 1.0), (2, 3, 1.0)])
    long = data_frame(core, 2, BROADCAST_SHORT, b"x" * 100)
    core.transmit(2, long, dst=BROADCAST_SHORT, ack_request=False, cca=False)
    core.run_until(0.001)  # b on the air
    core.transmit(3, data_frame(core, 3, 2), dst=2, ack_request=True, cca=True, tag=4)
    core.run_until(1.0)
    assert (3, TxStatus.COLLISION, 4) in [(s, st, t) for _, s, st, t in done]
    assert done[0][0] == pytest.approx(0.001 + phy.CCA_S)
    assert len(rec.air) == 1 and [c.status for c in rec.rows("c", "cca")] == ["busy"]


def test_port_receivers_get_duplicates_and_only_what_is_theirs() -> None:
    rec = Recorder()
    core, _ = port_core(rec, [(1, 2, 1.0), (1, 3, 1.0)])
    psdu = data_frame(core, 1, 2)
    for _ in range(2):  # the same frame twice (a retry whose ACK was lost, say)
        core.transmit(1, psdu, dst=2, ack_request=True, cca=True)
        core.run_until(core.now + 0.1)
    assert [(r, s, p) for r, s, p, _ in rec.delivered] == [(2, 1, psdu), (2, 1, psdu)]
    assert [r.status for r in rec.rows("c", "rx", "data")] == ["overheard"] * 2


def test_a_radio_that_is_off_hears_and_acks_nothing() -> None:
    rec = Recorder()
    core, done = port_core(rec, [(1, 2, 1.0)], ports=(1, 2))
    core.set_radio(2, False)  # b's process is not connected
    core.transmit(1, data_frame(core, 1, 2), dst=2, ack_request=True, cca=True)
    core.run_until(1.0)
    assert done[0][2] is TxStatus.NOACK and not rec.delivered and not rec.rows("b", "rx")


def test_a_tap_node_and_a_port_node_share_the_channel() -> None:
    rec = Recorder()
    core, done = port_core(rec, [(1, 2, 1.0)], ports=(2,))
    core.submit(1, 2, [data_frame(core, 1, 2)], ack_request=True)  # the TAP node's MAC
    core.run_until(0.1)
    core.transmit(2, data_frame(core, 2, 1), dst=1, ack_request=True, cca=True)
    core.run_until(0.2)
    assert [(r, s) for r, s, _, _ in rec.delivered] == [(2, 1), (1, 2)]
    assert done[0][1:3] == (2, TxStatus.OK) and core.stats.acked == 2
