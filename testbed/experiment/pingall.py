"""`pingall`: every node pings the cloud host over the emulated air (Mininet's `pingall`).

What it is: the smallest scenario that proves a topology works end to end: each node's
route-over path to the border router and on to the cloud, with ping's own round-trip
figures and the medium's frame counts. What it is not: a protocol comparison (that is the
XMPP/CoAP scenario runner's job).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from testbed.backends.emulated import EmulatedNetwork

_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
_RTT = re.compile(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/")


@dataclass(frozen=True, slots=True)
class PingResult:
    """What ping reported for one node: counts and RTTs in ms (None when nothing came back)."""

    node: str
    hops: int
    sent: int
    received: int
    rtt_min_ms: float | None
    rtt_avg_ms: float | None
    rtt_max_ms: float | None

    @property
    def ok(self) -> bool:
        return self.received == self.sent and self.sent > 0


def parse_ping(node: str, hops: int, output: str) -> PingResult:
    """Read iputils ping's summary lines."""
    summary = _SUMMARY.search(output)
    sent, received = (int(summary[1]), int(summary[2])) if summary else (0, 0)
    rtt = _RTT.search(output)
    figures = tuple(float(x) for x in rtt.groups()) if rtt else (None, None, None)
    return PingResult(node, hops, sent, received, *figures)


def ping_all(net: EmulatedNetwork, *, count: int = 3, interval_s: float = 0.2) -> list[PingResult]:
    """Each node in turn pings the cloud host; results in topology order.

    One node at a time, as Mininet's pingall does: with explicit links, nodes that share a
    parent but no link are hidden terminals, and synchronised pings from all of them would
    measure collisions rather than each path. A Contiki node has no shell to run ping in: the
    cloud host pings it (uIP answers echo requests), the same path the other way round.
    """
    argv = ["ping", "-6", "-n", "-q", "-c", str(count), "-i", str(interval_s), "-W", "5"]
    results = []
    for node in net.nodes:
        if net.is_contiki:
            done = net.exec("cloud", [*argv, str(net.address(node))], capture_output=True,
                            text=True, timeout=30 + count * (interval_s + 5))
        else:
            done = net.exec(node, [*argv, str(net.cloud_address)], capture_output=True,
                            text=True, timeout=30 + count * (interval_s + 5))
        results.append(parse_ping(node, net.route_tree.hops[node] + 1, done.stdout))
    return results


def medium_figures(net: EmulatedNetwork) -> dict[str, object]:
    """Frames, ACKs and bytes on the air from the medium's stats (after tear-down)."""
    stats = json.loads(net.stats_path.read_text())
    return {key: stats.get(key) for key in ("frames", "acks", "retries", "collisions",
                                            "captured_frames")}
