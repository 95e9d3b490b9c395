"""Why each emulated node gets its own TCP minimum RTO: one kernel's timers run in lockstep.

Two TCP senders in two namespaces of this kernel lose a segment 4 ms apart (their peer stops
acknowledging). With the same minimum RTO, the timer wheel rounds their retransmission timers
to granules of one clock and they retransmit as close as they first sent, often in the same
millisecond: two hidden terminals on the air collide at every retry. With the minimum RTOs the emulated backend
gives its nodes, the schedules drift apart by more than a fragmented datagram's airtime.
Real kernel, real sockets; needs CAP_NET_ADMIN.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time

import pytest

from testbed.backends import netns as ns
from testbed.backends.emulated import tcp_rto_min_ms

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]

PORT = 5999
WATCH_S = 4.0  # rounds 0..4 of Linux's backoff from 200-300 ms: 0.2+0.4+0.8+1.6 s and more
THREE_FRAGMENTS_S = 0.015  # airtime of a datagram in three 127-byte frames, about 3 x 4.3 ms


class Senders:
    """Client namespaces, each on its own veth to one server namespace that will go silent."""

    def __init__(self, rto_min_ms: list[int]) -> None:
        tag = secrets.token_hex(2)
        self.server = f"tb-rto-{tag}-s"
        self.clients = [f"tb-rto-{tag}-{i}" for i in range(len(rto_min_ms))]
        self.rto_min_ms = rto_min_ms

    def __enter__(self) -> Senders:
        ns.add_netns([self.server, *self.clients])
        server_lines = ["link set lo up"]
        for i, (client, rto) in enumerate(zip(self.clients, self.rto_min_ms, strict=True)):
            ns.ip(["link", "add", "c", "netns", client, "type", "veth",
                   "peer", "name", f"s{i}", "netns", self.server])
            ns.ip_batch(["link set c up", f"address add fd99:{i}::2/64 dev c nodad",
                         f"route replace fd99:{i}::1/128 dev c rto_min {rto}ms"], netns=client)
            server_lines += [f"link set s{i} up", f"address add fd99:{i}::1/64 dev s{i} nodad"]
        ns.ip_batch(server_lines, netns=self.server)
        return self

    def __exit__(self, *exc: object) -> None:
        ns.delete_netns([self.server, *self.clients])

    def retransmission_times(self) -> list[list[float]]:
        """Each client sends 100 bytes (4 ms after the one before) to a server that no longer
        answers; when each copy of the segment reached the server, for WATCH_S."""
        listener = ns.run_in_netns(self.server, lambda: socket.socket(socket.AF_INET6))
        taps, conns = [], []
        try:
            listener.bind(("::", PORT))
            listener.listen()
            for i, client in enumerate(self.clients):
                tap = ns.run_in_netns(self.server, lambda: socket.socket(
                    socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD)))
                tap.bind((f"s{i}", 0))
                tap.settimeout(0.1)
                taps.append(tap)
                conn = ns.run_in_netns(client, lambda: socket.socket(socket.AF_INET6))
                conn.connect((f"fd99:{i}::1", PORT))
                conns.append(conn)
                conns.append(listener.accept()[0])
            ns.ip_batch([f"route add blackhole fd99:{i}::2/128"
                         for i in range(len(self.clients))], netns=self.server)  # no more ACKs
            times: list[list[float]] = [[] for _ in self.clients]
            until = time.monotonic() + WATCH_S
            watchers = [threading.Thread(target=_watch, args=(tap, times[i], until))
                        for i, tap in enumerate(taps)]
            for watcher in watchers:
                watcher.start()
            for conn in conns[::2]:
                conn.send(b"r" * 100)
                time.sleep(0.004)
            for watcher in watchers:
                watcher.join()
            return times
        finally:
            for sock in (listener, *taps, *conns):
                sock.close()


def _watch(tap: socket.socket, times: list[float], until: float) -> None:
    """Arrival times of TCP segments with our 100-byte payload (Ethernet + IPv6 + TCP)."""
    while time.monotonic() < until:
        try:
            frame = tap.recv(2048)
        except TimeoutError:
            continue
        if frame[14 + 6] == socket.IPPROTO_TCP and len(frame) >= 14 + 40 + 20 + 100:
            times.append(time.monotonic())


GRANULE_S = 0.033  # the timer wheel's level-1 granule at HZ=250 (32 ms; 8 ms at HZ=1000)


def _gaps(times: list[list[float]]) -> list[float]:
    """Per round (0 = the original segment), how far apart the two senders sent it."""
    first, second = times
    assert len(first) >= 5 and len(second) >= 5, times  # the original and 4+ retransmissions
    return [abs(b - a) for a, b in zip(first, second)]


def test_the_same_minimum_rto_retransmits_in_lockstep():
    """The artefact the per-node RTO removes (what makes the next test able to fail): the
    senders stay as close as they started, within a granule, often in the same millisecond."""
    with Senders([200, 200]) as senders:
        gaps = _gaps(senders.retransmission_times())
    assert all(abs(gap - gaps[0]) < GRANULE_S for gap in gaps[1:]), gaps


def test_the_emulated_nodes_minimum_rtos_drift_apart():
    """s1 and s2 of topologies/default.yaml hear br but not each other (hidden terminals)."""
    rto = [tcp_rto_min_ms("s1", seed=1), tcp_rto_min_ms("s2", seed=1)]
    assert all(200 <= ms < 300 for ms in rto) and rto[0] != rto[1]
    with Senders(rto) as senders:
        gaps = _gaps(senders.retransmission_times())
    assert min(gaps[2:]) > THREE_FRAGMENTS_S and gaps[-1] - gaps[0] > 4 * GRANULE_S, gaps
