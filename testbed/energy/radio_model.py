"""Radio state times per node from the medium's activity log, for one radio duty-cycling mode.

What it is: `radio_times(activities, span_s, mode=...)` turns the rows of radio.csv
(testbed/radio/activity.py documents every kind and status) into the time each node's radio
spent transmitting, receiving, listening idle and asleep over the run's span (medium.json:
``t0_unix`` .. ``t0_unix + duration_s``). What it is not: a measurement of a real radio. The
emulated medium is always on (every node hears every frame in range); the duty-cycled mode
is a MODEL laid over that always-on emulation: it rescales what the log shows, it does not
change when frames went on the air (latencies and losses stay those of the always-on run).

Terms, both modes
    tx      the node's transmissions, data frames and ACKs (kind ``tx``, duration > 0; a
            ``drop`` row has none): (PSDU + 6) x 32 µs each (IEEE 802.15.4-2006 §6.5: 250
            kbit/s O-QPSK, SHR 5 + PHR 1 bytes). This is also results.json's ``tx_s``.
    rx      frames the receiver was busy with, own and overheard, whatever the outcome (kind
            ``rx``, every status: ok, duplicate, overheard, lost, collision, half-duplex: the
            radio was on and decoding); overlapping rows (collisions) count once, and time
            the node itself was transmitting (half-duplex) counts as tx, not rx.

Mode ``always-on`` (CSMA with Contiki's nullrdc: the radio never sleeps)
    listen  = span - tx - rx: idle listening, CCAs, backoffs and ACK waits included.
    sleep   = 0.

Mode ``contikimac`` (Dunkels, "The ContikiMAC Radio Duty Cycling Protocol", SICS T2011:13)
    wake-up interval W (default 125 ms = Contiki's NETSTACK_RDC_CHANNEL_CHECK_RATE 8 Hz).
    checks  span / W channel checks, each two CCAs Tc apart; each CCA keeps the radio on
            for the turnaround/settling time (192 µs, aTurnaroundTime) plus the CCA itself
            (128 µs, 8 symbols): CHECK_S = 2 x (0.192 + 0.128) ms = 0.64 ms of listen per
            wake-up (a 0.51 % idle duty cycle at 8 Hz).
    strobe  a data frame is repeated until the receiver wakes: a unicast that got its ACK
            strobes W/2 on average (the receiver's phase is uniform), a broadcast or a
            unicast without ACK (status no-ack) strobes a full W. The logged copy is the
            last one; the other (D - t_frame) split into copies (t_frame of tx) and the
            inter-frame gaps Ti = 0.4 ms (listen for the ACK), as in the ContikiMAC report.
    phase lock (the report's phase-lock optimisation, on by default in Contiki): once a
            unicast to a neighbour was ACKed, the sender knows its wake-up phase and later
            unicasts to it strobe only a guard time G (1.34 ms: Contiki's contikimac.c
            GUARD_TIME = 10 x CHECK_TIME + CHECK_TIME_TX, CHECK_TIME = 1/8192 s, CHECK_TIME_TX
            taken as one CHECK_TIME; from memory of that source, not re-read here) instead
            of W/2. No burst
            (frame-pending) optimisation. `phase_lock=False` gives the no-lock upper bound.
    rx      addressed frames (to the node or broadcast) and awaited ACKs count in full,
            plus t_frame/2 + Ti of listen (the receiver wakes in the middle of a copy and
            waits for the next one); frames addressed to others are overheard only if a
            channel check falls inside their strobe: probability D / W (1/2 unicast, 1
            broadcast), so t_frame x D/W; overheard ACKs are not heard (0).
    listen  checks + strobe gaps + CCAs + ACK waits (kind ``listen``) + the waits above.
    sleep   = span - tx - rx - listen (backoffs sleep: ContikiMAC turns the radio off).
    bound   the emulation's timing is always-on, so strobes can add up to more than the
            span on a busy node; then tx, rx and listen are scaled down to fill the span
            exactly (`terms` keep the unscaled contributions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from testbed.errors import BadInput
from testbed.radio.activity import RadioActivity
from testbed.radio.phy import CCA_S, TURNAROUND_S

CHECK_S = 2 * (TURNAROUND_S + CCA_S)   # one ContikiMAC channel check: two CCAs
INTERFRAME_S = 0.4e-3        # ContikiMAC Ti, gap between strobed copies
DEFAULT_WAKEUP_S = 0.125     # 8 Hz channel check rate
PHASE_LOCK_GUARD_S = 10 / 8192 + 1 / 8192   # Contiki GUARD_TIME (see the docstring)
BROADCAST = "broadcast"
_ADDRESSED_RX = frozenset({"ok", "duplicate"})


class RdcMode(StrEnum):
    """Radio duty-cycling modes of the model."""

    ALWAYS_ON = "always-on"
    CONTIKIMAC = "contikimac"


def parse_mode(text: str) -> RdcMode:
    try:
        return RdcMode(text.lower())
    except ValueError:
        raise BadInput(f"unknown radio duty-cycling mode {text!r}: expected one of "
                       f"{', '.join(RdcMode)}") from None


@dataclass(frozen=True, slots=True)
class RadioTimes:
    """Seconds one node's radio spent in each state over `span_s` (they sum to it)."""

    node: str
    span_s: float
    tx_s: float
    rx_s: float
    listen_s: float
    sleep_s: float
    frames_sent: int = 0
    terms: dict[str, float] = field(default_factory=dict)  # the model's named contributions

    @property
    def on_s(self) -> float:
        return self.tx_s + self.rx_s + self.listen_s


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _length(intervals: Sequence[tuple[float, float]]) -> float:
    return sum(b - a for a, b in intervals)


def _minus(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    """Length of union `a` outside union `b` (both merged and sorted)."""
    total, j = 0.0, 0
    for start, end in a:
        cut = start
        while j < len(b) and b[j][1] <= start:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            total += max(0.0, min(b[k][0], end) - cut)
            cut = max(cut, b[k][1])
            k += 1
        total += max(0.0, end - cut)
    return total


def _key(sender: str, start_s: float) -> tuple[str, int]:
    return sender, round(start_s * 1e6)


def radio_times(
    activities: Sequence[RadioActivity],
    span_s: float,
    *,
    mode: RdcMode | str = RdcMode.ALWAYS_ON,
    wakeup_s: float = DEFAULT_WAKEUP_S,
    phase_lock: bool = True,
    nodes: Iterable[str] = (),
) -> dict[str, RadioTimes]:
    """Per node radio times for `mode` (module docstring: every term and its source)."""
    mode = RdcMode(mode)
    if span_s <= 0:
        raise BadInput(f"run span must be positive, got {span_s} s")
    if wakeup_s <= 0:
        raise BadInput(f"wake-up interval must be positive, got {wakeup_s} s")
    by_node: dict[str, list[RadioActivity]] = defaultdict(list)
    for row in activities:
        by_node[row.node].append(row)
    for name in nodes:
        by_node.setdefault(name, [])
    # who each transmission was for: rx rows share the sender's tx start time
    sent_to = {_key(a.node, a.start_s): a for a in activities
               if a.kind == "tx" and a.duration_s > 0}
    if mode is RdcMode.ALWAYS_ON:
        return {node: _always_on(node, rows, span_s)
                for node, rows in sorted(by_node.items())}
    strobes = _strobes(activities, wakeup_s, phase_lock)
    return {node: _contikimac(node, rows, span_s, sent_to, strobes, wakeup_s)
            for node, rows in sorted(by_node.items())}


def _clipped(start: float, duration: float, span_s: float) -> tuple[float, float]:
    """An activity's interval cut to the run's span [0, span_s]: a frame the medium finished
    after its clock stopped counts only up to the end of the span."""
    return max(start, 0.0), min(start + duration, span_s)


def _tx_rx(rows: Sequence[RadioActivity], rx_filter=None, span_s: float = float("inf")
           ) -> tuple[list, float, float, int]:
    tx = _union(_clipped(a.start_s, a.duration_s, span_s) for a in rows
                if a.kind == "tx" and a.duration_s > 0)
    rx = _union(_clipped(a.start_s, a.duration_s, span_s) for a in rows
                if a.kind == "rx" and (rx_filter is None or rx_filter(a)))
    sent = sum(1 for a in rows if a.kind == "tx" and a.duration_s > 0)
    return tx, _length(tx), _minus(rx, tx), sent


def _always_on(node: str, rows: Sequence[RadioActivity], span_s: float) -> RadioTimes:
    _tx, tx_s, rx_s, sent = _tx_rx(rows, span_s=span_s)
    listen_s = span_s - tx_s - rx_s  # >= 0: tx and rx are disjoint unions inside the span
    return RadioTimes(node, span_s, tx_s, rx_s, listen_s, 0.0, sent,
                      {"tx_frames_s": tx_s, "rx_frames_s": rx_s, "idle_listen_s": listen_s})


def _strobes(activities: Sequence[RadioActivity], wakeup_s: float,
             phase_lock: bool) -> dict[tuple[str, int], float]:
    """ContikiMAC strobe length D of every data frame sent, by (sender, start) (docstring)."""
    locked: set[tuple[str, str]] = set()
    strobes = {}
    for a in sorted((a for a in activities
                     if a.kind == "tx" and a.frame == "data" and a.duration_s > 0),
                    key=lambda a: a.start_s):
        if a.peer == BROADCAST or a.status == "no-ack":
            d = wakeup_s
        elif phase_lock and (a.node, a.peer) in locked:
            d = min(PHASE_LOCK_GUARD_S + a.duration_s, wakeup_s / 2)
        else:
            d = wakeup_s / 2
        if phase_lock and a.peer != BROADCAST and a.status == "ok":
            locked.add((a.node, a.peer))
        strobes[_key(a.node, a.start_s)] = d
    return strobes


def _contikimac(node: str, rows: Sequence[RadioActivity], span_s: float, sent_to: dict,
                strobes: dict[tuple[str, int], float], wakeup_s: float) -> RadioTimes:
    def addressed(a: RadioActivity) -> bool:
        if a.frame == "ack":
            return a.status == "ok"  # the ACK this node was waiting for
        tx = sent_to.get(_key(a.peer, a.start_s))
        if tx is None:
            return a.status in _ADDRESSED_RX
        return tx.peer in (node, BROADCAST)

    tx_union, logged_tx_s, addressed_rx_s, sent = _tx_rx(rows, addressed, span_s=span_s)
    strobe_tx = strobe_gap = 0.0
    for a in rows:
        if a.kind == "tx" and a.frame == "data" and a.duration_s > 0:
            extra = max(strobes[_key(a.node, a.start_s)] - a.duration_s, 0.0)
            copies = extra / (a.duration_s + INTERFRAME_S)
            strobe_tx += copies * a.duration_s
            strobe_gap += copies * INTERFRAME_S
    wait_next_copy = overheard = 0.0
    for a in rows:
        if a.kind != "rx" or a.frame != "data":
            continue
        if addressed(a):
            wait_next_copy += a.duration_s / 2 + INTERFRAME_S
        else:
            p = strobes.get(_key(a.peer, a.start_s), wakeup_s / 2) / wakeup_s
            overheard += p * a.duration_s
    checks = span_s / wakeup_s * CHECK_S
    cca = sum(a.duration_s for a in rows if a.kind == "cca")
    ack_wait = sum(a.duration_s for a in rows if a.kind == "listen")
    tx_s = logged_tx_s + strobe_tx
    rx_s = addressed_rx_s + overheard
    listen_s = checks + strobe_gap + cca + ack_wait + wait_next_copy
    on = tx_s + rx_s + listen_s
    if on > span_s:  # a model bound: the radio cannot be on longer than the run
        scale = span_s / on
        tx_s, rx_s, listen_s = tx_s * scale, rx_s * scale, listen_s * scale
    terms = {"tx_frames_s": logged_tx_s, "strobe_tx_s": strobe_tx, "strobe_gaps_s": strobe_gap,
             "rx_addressed_s": addressed_rx_s, "rx_overheard_s": overheard,
             "channel_checks_s": checks, "cca_s": cca, "ack_wait_s": ack_wait,
             "wait_next_copy_s": wait_next_copy}
    return RadioTimes(node, span_s, tx_s, rx_s, listen_s,
                      max(span_s - tx_s - rx_s - listen_s, 0.0), sent, terms)
