"""A discrete-event model of one IEEE 802.15.4 channel shared by the nodes of a PAN.

What it is: per-node MACs (a queue of datagrams, unslotted CSMA-CA, ACKs and
retransmissions, duplicate detection) over a channel where a transmission takes its
airtime and every neighbour in range hears it: each receives it with the link's
packet reception ratio, overlapping receptions collide, and a transmitting node
hears nothing (half duplex). Time is the model's: events run at their modelled
times from a heap, either as fast as possible (`run_until`, virtual time, for tests)
or when the wall clock reaches them (`run_due`, the live medium).

What it is not: a codec. A frame is an opaque PSDU with a destination, an
ack-request flag and a length; the only byte the core reads is the sequence number
at offset 2 (IEEE 802.15.4-2006 §7.2.1: frame control 2 bytes, then the DSN), as
an auto-ACK radio does. ACK frames come from an injected encoder
(`testbed.lowpan.mac.encode_ack` by default).

Simplifications, on purpose: no interframe spacing (SIFS/LIFS); a transmission
starts aTurnaroundTime (192 µs) after an idle CCA; CCA sees energy from any neighbour in range
(whatever the link's prr) and from the node's own ACKs; an ACK is matched by its
sequence number alone, as radios do; a channel access failure gives up the frame
(§7.5.1.4: the MAC reports CHANNEL_ACCESS_FAILURE) and with it the rest of the
datagram, as a lost fragment would lose it anyway.

Frame-port nodes (`frame_ports`) have their own MAC (Contiki-NG's CSMA): they hand
the channel one frame at a time through `transmit`, which does what their radio
would: an optional CCA (busy: COLLISION at once, as a radio in send-on-CCA mode
answers), the turnaround, the airtime, then the ACK or macAckWaitDuration; no backoff
and no retry here. They receive every intact frame addressed to them or broadcast,
duplicates included (their MAC drops its own), and only while their radio is on
(`set_radio`: the node's process is connected).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from testbed.lowpan.addresses import BROADCAST_SHORT
from testbed.radio import phy
from testbed.radio.activity import RadioActivity
from testbed.radio.frameport import TxStatus

Deliver = Callable[[int, int, bytes, float], None]  # (receiver, sender, psdu, time)

#: How long a received frame counts as "the previous one" for duplicate rejection: longer
#: than any retry sequence (4 attempts of at most ~50 ms), far shorter than 256 frames.
DUPLICATE_WINDOW_S = 1.0
OnAir = Callable[[float, bytes], None]  # (start time, psdu)
OnActivity = Callable[[RadioActivity], None]
OnTxDone = Callable[[int, TxStatus, int], None]  # (frame-port sender, outcome, its TX's tag)


@dataclass(frozen=True, slots=True)
class CsmaParameters:
    """MAC timing and CSMA-CA parameters; defaults are the 802.15.4-2006 ones (`phy.py`).

    Tests change `min_be` to force what a seed would only make likely (a collision).
    """

    min_be: int = phy.MAC_MIN_BE
    max_be: int = phy.MAC_MAX_BE
    max_csma_backoffs: int = phy.MAC_MAX_CSMA_BACKOFFS
    max_frame_retries: int = phy.MAC_MAX_FRAME_RETRIES
    unit_backoff_s: float = phy.UNIT_BACKOFF_S
    cca_s: float = phy.CCA_S
    turnaround_s: float = phy.TURNAROUND_S
    ack_wait_s: float = phy.MAC_ACK_WAIT_S


@dataclass(slots=True)
class RadioStats:
    """Counters of the whole channel (written to the medium's stats file)."""

    data_frames: int = 0  # data transmissions, retransmissions included
    ack_frames: int = 0
    retries: int = 0
    acked: int = 0
    no_ack: int = 0  # transmissions whose ACK did not come
    collisions: int = 0  # (receiver, frame) pairs corrupted by an overlap
    lost: int = 0  # (receiver, frame) pairs lost to the link's prr
    half_duplex: int = 0
    duplicates: int = 0
    delivered: int = 0  # frames handed upward (unicast to its node, or broadcast)
    cca_busy: int = 0
    channel_access_failures: int = 0
    queue_drops: int = 0  # datagrams refused by a full queue
    datagrams_sent: int = 0  # every frame of the datagram went out (and was ACKed if asked)
    port_frames: int = 0  # frames frame-port nodes handed over (each TX, CCA-busy ones too)
    drops: dict[str, int] = field(default_factory=dict)  # frames given up, by reason

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


class _Datagram:
    """The frames of one upper-layer datagram (6LoWPAN fragments), sent in order."""

    __slots__ = ("dst", "ack_request", "frames", "index")

    def __init__(self, dst: int, ack_request: bool, frames: list[bytes]) -> None:
        self.dst = dst
        self.ack_request = ack_request
        self.frames = frames
        self.index = 0


class _Transmission:
    """One frame on the air: who sent it, when, and at which receivers it was corrupted."""

    __slots__ = ("sender", "psdu", "seq", "dst", "ack_request", "is_ack", "start", "end",
                 "corrupted")

    def __init__(self, sender: _Node, psdu: bytes, dst: int, ack_request: bool,
                 is_ack: bool) -> None:
        self.sender = sender
        self.psdu = psdu
        self.seq = psdu[2]
        self.dst = dst
        self.ack_request = ack_request
        self.is_ack = is_ack
        self.start = 0.0
        self.end = 0.0
        self.corrupted: set[int] | None = None


class _Node:
    """A node's MAC and receiver state."""

    __slots__ = ("short", "name", "neighbours", "queue", "active", "nb", "be", "retries",
                 "cca_start", "tx_start", "tx_end", "arriving", "last_arrival_end",
                 "awaiting", "last_frame", "seq", "port", "radio_on", "last_tx", "tag")

    def __init__(self, short: int, name: str) -> None:
        self.short = short
        self.name = name
        self.neighbours: list[tuple[_Node, float]] = []
        self.queue: deque[_Datagram] = deque()
        self.active = False  # the MAC is busy with the head of the queue
        self.nb = 0
        self.be = 0
        self.retries = 0
        self.cca_start = 0.0
        self.tx_start = -1.0
        self.tx_end = -1.0
        self.arriving: list[_Transmission] = []
        self.last_arrival_end = -1.0
        self.awaiting: _Transmission | None = None
        self.last_frame: dict[int, tuple[bytes, float]] = {}  # sender -> (PSDU, time)
        self.seq = 0
        self.port = False  # a frame-port node: its own MAC, `RadioCore.transmit`
        self.radio_on = True
        self.last_tx = b""  # a frame-port node's last PSDU on the air (a repeat is a retry)
        self.tag = 0  # the caller's tag of the frame-port node's TX under way


def _default_ack(seq: int) -> bytes:
    from testbed.lowpan.mac import encode_ack

    return encode_ack(seq)


class RadioCore:
    """The shared channel and every node's MAC, driven by modelled time.

    `nodes` maps short address -> node name; `links` are undirected
    (a, b, prr) triples over short addresses. Callbacks: `on_deliver(receiver,
    sender, psdu, time)` for every frame a node hands upward, `on_air(start, psdu)`
    for every frame put on the air (data and ACK, in start-time order),
    `on_activity(RadioActivity)` for the activity log. `clock()` gives the time at
    which `submit` is called (defaults to the model's own time).
    """

    def __init__(
        self,
        nodes: Mapping[int, str],
        links: Iterable[tuple[int, int, float]],
        *,
        seed: int = 1,
        queue_limit: int = 16,
        params: CsmaParameters = CsmaParameters(),
        clock: Callable[[], float] | None = None,
        encode_ack: Callable[[int], bytes] = _default_ack,
        on_deliver: Deliver | None = None,
        on_air: OnAir | None = None,
        on_activity: OnActivity | None = None,
        lateness: Callable[[float], None] | None = None,
        frame_ports: Iterable[int] = (),
        on_tx_done: OnTxDone | None = None,
    ) -> None:
        self.nodes = {short: _Node(short, name) for short, name in nodes.items()}
        for short in frame_ports:
            node = self.nodes[short]
            node.port = True
            node.radio_on = False  # until its process connects
        for node in self.nodes.values():
            # §7.4.2: macDSN starts at a random value; nodes starting at the same DSN would make
            # an ACK (which carries only the DSN) fit another sender's frame. Its own seeded
            # RNG, so the channel's draws do not shift with the number of nodes.
            node.seq = random.Random(f"dsn-{seed}-{node.short}").randrange(256)
        for a, b, prr in links:
            if a == b or not 0.0 <= prr <= 1.0:
                raise ValueError(f"bad link {a}-{b} prr {prr}")
            self.nodes[a].neighbours.append((self.nodes[b], prr))
            self.nodes[b].neighbours.append((self.nodes[a], prr))
        self.rng = random.Random(seed)
        self.queue_limit = queue_limit
        self.params = params
        self.now = 0.0
        self._clock = clock
        self._encode_ack = encode_ack
        self._deliver = on_deliver or (lambda r, s, p, t: None)
        self._on_air = on_air or (lambda t, p: None)
        self._log = on_activity or (lambda a: None)
        self._lateness = lateness
        self._tx_done = on_tx_done or (lambda s, status, tag: None)
        self._events: list[tuple[float, int, Callable[[object], None], object]] = []
        self._order = itertools.count()
        self.stats = RadioStats()
        self._ack_air = phy.airtime(phy.ACK_PSDU)
        self.closing = False

    # -- scheduling ---------------------------------------------------------------

    def _at(self, time: float, action: Callable[[object], None], arg: object) -> None:
        heapq.heappush(self._events, (time, next(self._order), action, arg))

    def next_event_time(self) -> float | None:
        """Model time of the earliest pending event, None when the channel is quiet."""
        return self._events[0][0] if self._events else None

    def run_due(self, now: float) -> int:
        """Run every event due at or before `now` (live mode); returns how many ran.

        Each runs at its own modelled time (`self.now`), however late the loop is;
        the lateness `now - time` goes to the `lateness` callback.
        """
        events = self._events
        pop = heapq.heappop
        late = self._lateness
        count = 0
        while events and events[0][0] <= now:
            time, _, action, arg = pop(events)
            self.now = time
            if late is not None:
                late(now - time)
            action(arg)
            count += 1
        return count

    def run_until(self, end: float) -> None:
        """Virtual time: run every event up to `end` as fast as possible, then stand at `end`."""
        self.run_due(end)
        self.now = max(self.now, end)

    # -- the upper layer's side ---------------------------------------------------

    def next_seq(self, src: int) -> int:
        """The sender's next MAC sequence number (DSN), per sender, mod 256 (§7.2.1.2)."""
        node = self.nodes[src]
        seq = node.seq
        node.seq = (seq + 1) & 0xFF
        return seq

    def submit(
        self, src: int, dst: int, frames: Sequence[bytes], *, ack_request: bool
    ) -> bool:
        """Queue a datagram (its frames, e.g. 6LoWPAN fragments) at node `src` for `dst`.

        Returns False when the queue already holds `queue_limit` datagrams (tail drop).
        """
        if self._clock is not None:
            self.now = max(self.now, self._clock())
        node = self.nodes[src]
        for psdu in frames:
            if len(psdu) > phy.MAX_PSDU:
                raise ValueError(f"{len(psdu)}-byte PSDU exceeds aMaxPHYPacketSize 127")
        if len(node.queue) >= self.queue_limit:
            self.stats.queue_drops += 1
            self._count_drop("queue-full", len(frames))
            peer = self._peer_name(dst)
            for psdu in frames:
                self._log(RadioActivity(node.name, "drop", "data", self.now, 0.0, len(psdu),
                                        psdu[2], peer, "queue-full"))
            return False
        node.queue.append(_Datagram(dst, ack_request and dst != BROADCAST_SHORT, list(frames)))
        if not node.active and not self.closing:
            self._start_frame(node)
        return True

    # -- unslotted CSMA-CA, IEEE 802.15.4-2006 §7.5.1.4 ---------------------------

    def _start_frame(self, node: _Node) -> None:
        node.active = True
        node.nb = 0
        node.be = self.params.min_be
        self._backoff(node)

    def _backoff(self, node: _Node) -> None:
        """Delay for a random (2^BE - 1) unit backoff periods, then perform CCA."""
        units = self.rng.randrange(1 << node.be)
        delay = units * self.params.unit_backoff_s
        dg = node.queue[0]
        self._log(RadioActivity(node.name, "backoff", "data", self.now, delay, 0,
                                dg.frames[dg.index][2], "", "wait"))
        self._at(self.now + delay, self._cca_start, node)

    def _cca_start(self, node: _Node) -> None:
        node.cca_start = self.now
        self._at(self.now + self.params.cca_s, self._cca_end, node)

    def _cca_end(self, node: _Node) -> None:
        """Channel idle: transmit. Busy: NB+1, BE+1 (up to macMaxBE), back off or fail."""
        start = node.cca_start
        busy = self._busy(node)
        dg = node.queue[0]
        self._log(RadioActivity(node.name, "cca", "data", start, self.params.cca_s, 0, -1, "",
                                "busy" if busy else "idle"))
        if not busy:
            # §7.5.1.4 / §6.4.1: after an idle CCA the radio turns from RX to TX
            # (aTurnaroundTime); a neighbour whose CCA ends within that window also finds
            # the channel idle, and the two frames collide.
            psdu = dg.frames[dg.index]
            tx = _Transmission(node, psdu, dg.dst, dg.ack_request, False)
            self._at(self.now + self.params.turnaround_s, self._transmit, tx)
            return
        self.stats.cca_busy += 1
        node.nb += 1
        node.be = min(node.be + 1, self.params.max_be)
        if node.nb > self.params.max_csma_backoffs:
            self.stats.channel_access_failures += 1
            self._give_up(node, "channel-access-failure")
        else:
            self._backoff(node)

    def _busy(self, node: _Node) -> bool:
        """Energy seen during the CCA [cca_start, now): a frame starting exactly now is not."""
        start, now = node.cca_start, self.now
        return (
            node.last_arrival_end > start
            or (node.tx_end > start and node.tx_start < now)
            or any(other.start < now for other in node.arriving)
        )

    # -- frame-port nodes: their own MAC, this is their radio ---------------------

    def set_radio(self, short: int, on: bool) -> None:
        """A frame-port node's radio on (its process connected) or off (nothing heard,
        nothing ACKed, no energy spent receiving)."""
        self.nodes[short].radio_on = on

    def transmit(self, src: int, psdu: bytes, *, dst: int, ack_request: bool,
                 cca: bool, tag: int = 0) -> None:
        """Frame-port node `src` sends one PSDU (FCS included) to `dst` (from its header).

        The outcome comes through `on_tx_done` at the modelled end of the exchange:
        COLLISION at the end of a busy CCA (or at once if the radio is still busy), OK
        after the frame (broadcast) or its ACK, NOACK after macAckWaitDuration; `tag`
        comes back with it.
        """
        if self._clock is not None:
            self.now = max(self.now, self._clock())
        if len(psdu) > phy.MAX_PSDU:
            raise ValueError(f"{len(psdu)}-byte PSDU exceeds aMaxPHYPacketSize 127")
        node = self.nodes[src]
        self.stats.port_frames += 1
        if node.active or node.tx_end > self.now or self.closing:
            self._tx_done(src, TxStatus.COLLISION, tag)  # still sending (an ACK on its behalf)
            return
        node.active = True
        node.tag = tag
        tx = _Transmission(node, psdu, dst, ack_request and dst != BROADCAST_SHORT, False)
        if cca:
            node.cca_start = self.now
            self._at(self.now + self.params.cca_s, self._port_cca_end, tx)
        else:
            self._at(self.now + self.params.turnaround_s, self._transmit, tx)

    def _port_cca_end(self, tx: _Transmission) -> None:
        node = tx.sender
        busy = self._busy(node)
        self._log(RadioActivity(node.name, "cca", "data", node.cca_start, self.params.cca_s, 0,
                                -1, "", "busy" if busy else "idle"))
        if busy:
            self.stats.cca_busy += 1
            self._port_done(node, TxStatus.COLLISION)
        else:
            self._at(self.now + self.params.turnaround_s, self._transmit, tx)

    def _port_done(self, node: _Node, status: TxStatus) -> None:
        node.active = False
        self._tx_done(node.short, status, node.tag)

    # -- the channel --------------------------------------------------------------

    def _transmit(self, tx: _Transmission) -> None:
        """Put a frame on the air: every neighbour starts receiving it; overlaps collide."""
        now = self.now
        sender = tx.sender
        tx.start = now
        tx.end = end = now + phy.airtime(len(tx.psdu))
        sender.tx_start = now
        sender.tx_end = end
        if tx.is_ack:
            self.stats.ack_frames += 1
        else:
            self.stats.data_frames += 1
            if sender.port:
                if tx.psdu == sender.last_tx:
                    self.stats.retries += 1  # its MAC sent the same frame (same DSN) again
                sender.last_tx = tx.psdu
        self._on_air(now, tx.psdu)
        for receiver, _ in sender.neighbours:
            arriving = receiver.arriving
            if arriving:
                if tx.corrupted is None:
                    tx.corrupted = set()
                tx.corrupted.add(receiver.short)
                for other in arriving:
                    if other.corrupted is None:
                        other.corrupted = set()
                    other.corrupted.add(receiver.short)
            arriving.append(tx)
        self._at(end, self._transmission_end, tx)

    def _transmission_end(self, tx: _Transmission) -> None:
        """End of a frame on the air: each neighbour's reception outcome, then the sender's."""
        sender = tx.sender
        start, end = tx.start, tx.end
        duration = end - start
        length = len(tx.psdu)
        frame = "ack" if tx.is_ack else "data"
        rng = self.rng.random
        stats = self.stats
        for receiver, prr in sender.neighbours:
            receiver.arriving.remove(tx)
            if end > receiver.last_arrival_end:
                receiver.last_arrival_end = end
            draw = rng()  # drawn for every neighbour so one outcome never shifts the others
            if not receiver.radio_on:
                continue  # a frame-port node whose process is not connected
            if tx.corrupted is not None and receiver.short in tx.corrupted:
                stats.collisions += 1
                status = "collision"
            elif receiver.tx_end > start and receiver.tx_start < end:
                stats.half_duplex += 1
                status = "half-duplex"
            elif draw >= prr:
                stats.lost += 1
                status = "lost"
            else:
                status = self._receive(receiver, tx)
            self._log(RadioActivity(receiver.name, "rx", frame, start, duration, length, tx.seq,
                                    sender.name, status))
        if tx.is_ack:
            self._log(RadioActivity(sender.name, "tx", "ack", start, duration, length, tx.seq,
                                    self._peer_name(tx.dst), "ok"))
        elif tx.ack_request:
            sender.awaiting = tx
            self._at(end + self.params.ack_wait_s, self._ack_timeout, tx)
        else:
            self._log(RadioActivity(sender.name, "tx", "data", start, duration, length, tx.seq,
                                    self._peer_name(tx.dst), "ok"))
            if sender.port:
                self._port_done(sender, TxStatus.OK)
            else:
                self._frame_done(sender)

    def _receive(self, receiver: _Node, tx: _Transmission) -> str:
        """A frame arrived intact at `receiver`: ACK matching, filtering, duplicates (§7.5.6)."""
        if tx.is_ack:
            awaited = receiver.awaiting
            if awaited is None or awaited.seq != tx.seq:
                return "overheard"
            receiver.awaiting = None
            self.stats.acked += 1
            self._log(RadioActivity(receiver.name, "listen", "ack", awaited.end,
                                    tx.start - awaited.end, 0, awaited.seq,
                                    self._peer_name(awaited.dst), "ok"))
            self._log(RadioActivity(receiver.name, "tx", "data", awaited.start,
                                    awaited.end - awaited.start, len(awaited.psdu), awaited.seq,
                                    self._peer_name(awaited.dst), "ok"))
            if receiver.port:
                self._port_done(receiver, TxStatus.OK)
            else:
                self._frame_done(receiver)
            return "ok"
        sender = tx.sender
        if tx.dst == BROADCAST_SHORT:
            self.stats.delivered += 1
            self._deliver(receiver.short, sender.short, tx.psdu, self.now)
            return "ok"
        if tx.dst != receiver.short:
            return "overheard"
        if tx.ack_request:
            # §7.5.6.4.2: the ACK is sent aTurnaroundTime after the end of the frame.
            ack = _Transmission(receiver, self._encode_ack(tx.seq), sender.short, False, True)
            self._at(tx.end + self.params.turnaround_s, self._send_ack, ack)
        if receiver.port:  # its own MAC rejects duplicates (Contiki-NG's CSMA does)
            self.stats.delivered += 1
            self._deliver(receiver.short, sender.short, tx.psdu, self.now)
            return "ok"
        # A retransmission is the same PSDU again (same DSN) soon after: a sender's DSN is
        # shared by all its destinations, so the DSN alone would take the frame that
        # follows 256 frames to others for a duplicate (Contiki-NG ages its seqno history).
        previous = receiver.last_frame.get(sender.short)
        if previous is not None and previous[0] == tx.psdu \
                and self.now - previous[1] < DUPLICATE_WINDOW_S:
            self.stats.duplicates += 1
            return "duplicate"
        receiver.last_frame[sender.short] = (tx.psdu, self.now)
        self.stats.delivered += 1
        self._deliver(receiver.short, sender.short, tx.psdu, self.now)
        return "ok"

    def _send_ack(self, ack: _Transmission) -> None:
        if ack.sender.tx_end > self.now:  # already transmitting (its own ACK): cannot
            return
        self._transmit(ack)

    def _ack_timeout(self, tx: _Transmission) -> None:
        """macAckWaitDuration passed without the ACK: retransmit or give up (§7.5.6.4.3)."""
        sender = tx.sender
        if sender.awaiting is not tx:
            return  # the ACK came in time
        sender.awaiting = None
        self.stats.no_ack += 1
        self._log(RadioActivity(sender.name, "listen", "ack", tx.end, self.params.ack_wait_s, 0,
                                tx.seq, self._peer_name(tx.dst), "no-ack"))
        self._log(RadioActivity(sender.name, "tx", "data", tx.start, tx.end - tx.start,
                                len(tx.psdu), tx.seq, self._peer_name(tx.dst), "no-ack"))
        if sender.port:
            self._port_done(sender, TxStatus.NOACK)  # its own MAC decides on a retry
            return
        sender.retries += 1
        if sender.retries > self.params.max_frame_retries:
            self._give_up(sender, "dropped", reason="no-ack")
            return
        self.stats.retries += 1
        if self.closing:
            sender.active = False
            return
        self._start_frame(sender)  # a new CSMA-CA, same PSDU, same sequence number

    # -- the MAC queue --------------------------------------------------------------

    def _frame_done(self, node: _Node) -> None:
        node.retries = 0
        dg = node.queue[0]
        dg.index += 1
        if dg.index >= len(dg.frames):
            node.queue.popleft()
            self.stats.datagrams_sent += 1
        self._next(node)

    def _give_up(self, node: _Node, status: str, reason: str | None = None) -> None:
        """Drop the current frame and the rest of its datagram (the receiver cannot
        reassemble a datagram with a fragment missing)."""
        dg = node.queue.popleft()
        psdu = dg.frames[dg.index]
        self._log(RadioActivity(node.name, "drop", "data", self.now, 0.0, len(psdu), psdu[2],
                                self._peer_name(dg.dst), status))
        self._count_drop(reason or status, len(dg.frames) - dg.index)
        node.retries = 0
        self._next(node)

    def close(self, settle_s: float = 0.05) -> None:
        """Stop taking frames: let what is on the air (and its ACK wait) finish in model
        time, start no new frame, so every frame in the capture gets its log rows."""
        self.closing = True
        self._lateness = None  # the settle runs ahead of the clock: not lateness
        self.run_until(self.now + settle_s)

    def _next(self, node: _Node) -> None:
        if node.queue and not self.closing:
            self._start_frame(node)
        else:
            node.active = False

    def _count_drop(self, reason: str, frames: int) -> None:
        drops = self.stats.drops
        drops[reason] = drops.get(reason, 0) + frames

    def _peer_name(self, short: int) -> str:
        if short == BROADCAST_SHORT:
            return "broadcast"
        node = self.nodes.get(short)
        return node.name if node is not None else f"{short:#06x}"
