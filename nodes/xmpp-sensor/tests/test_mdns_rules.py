"""RFC 6762's rules, one test each, checked on the packets the node put on a real link.

The node's mdnslink.py runs in one namespace; the test is the other host on the link: it
captures with kernel timestamps and sends what it needs with scapy, so nothing here reads the
node's own constants or its own codec. The numbers below are the RFC's. Needs CAP_NET_ADMIN.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSRV

from testbed.backends import netns as ns

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdns_peers import LinkPair, Packet

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]

INSTANCE = "s1@s1._presence._tcp.local"
PRESENCE = "_presence._tcp.local"
NODE = {"host": "s1", "services": [{"instance": "s1@s1", "type": "_presence._tcp",
                                    "port": 5562, "txt": [["txtvers", "1"]]}]}
ANY, PTR, TXT, SRV, AAAA = 255, 12, 16, 33, 28
LATE_S = 0.150  # how late a timer of a Python process on a busy 2-core machine may fire


def is_probe(p: Packet) -> bool:
    return not p.is_response and bool(p.dns.ns)


def is_announcement(p: Packet) -> bool:
    return p.is_response and not p.dns.qd and bool(p.dns.an)


def answers(p: Packet, rtype: int, name: str | None = None) -> list:
    return [rr for rr in p.records("an") if rr.type == rtype
            and (name is None or rr.rrname.decode().rstrip(".") == name)]


def started(link: LinkPair, config: dict | None = None):
    """Capture, then a node; returns both once it holds its names (announcements done)."""
    capture = link.capture()
    node = link.node_process(config or NODE)
    node.wait_for("claimed", name=INSTANCE)
    first = capture.wait(link.node_address, is_announcement)
    capture.wait(link.node_address, is_announcement, after=first.t)
    time.sleep(1.1)  # the 1 s rate limit since the second announcement runs out
    return capture, node


class Answering:
    """One node that holds its names, shared by the rules about answering queries (each test
    first waits out the 1 s rate limit its predecessor may have started)."""

    def __init__(self, link: LinkPair) -> None:
        self.link = link
        self.capture, self.node = started(link)
        self.peer = link.peer_socket()

    def fresh(self) -> float:
        time.sleep(1.1)
        return time.time()


@pytest.fixture(scope="module")
def answering() -> Iterator[Answering]:
    with LinkPair() as link:
        yield Answering(link)


def query(*questions: DNSQR, known: list | None = None) -> bytes:
    return bytes(DNS(id=0, qr=0, qd=list(questions), an=known or []))


def test_probing_three_probes_250_ms_apart_then_two_announcements_1_s_apart() -> None:
    """§8.1: 3 probes 250 ms apart, QTYPE ANY, proposed records in the authority section,
    the first asking for a unicast answer; §8.3: announce at least twice, 1 s apart, with the
    cache-flush bit on unique records; §10: TTL 120 s for host-name records, 4500 s others."""
    with LinkPair() as link:
        capture = link.capture()
        node = link.node_process(NODE)
        node.wait_for("claimed", name=INSTANCE)
        time.sleep(1.5)
        sent = capture.sent_by(link.node_address)
    probes = [p for p in sent if is_probe(p)]
    announcements = [p for p in sent if is_announcement(p)]
    assert len(probes) == 3
    for p in probes:
        assert sorted(p.questions()) == sorted([("s1.local", ANY, int(p is probes[0])),
                                                (INSTANCE, ANY, int(p is probes[0]))])
        assert sorted(p.names("ns")) == sorted(["s1.local", INSTANCE, INSTANCE])
    gaps = [b.t - a.t for a, b in zip(probes, probes[1:])]
    assert all(0.250 <= g <= 0.250 + LATE_S for g in gaps), gaps
    assert len(announcements) == 2
    assert 0.250 <= announcements[0].t - probes[-1].t <= 0.250 + LATE_S
    assert 1.0 <= announcements[1].t - announcements[0].t <= 1.0 + LATE_S
    records = {(rr.rrname.decode().rstrip("."), rr.type): rr for rr in announcements[0].records()}
    assert {k: (rr.ttl, rr.cacheflush) for k, rr in records.items()} == {
        ("s1.local", AAAA): (120, 1),
        (INSTANCE, SRV): (120, 1),
        (INSTANCE, TXT): (4500, 1),
        (PRESENCE, PTR): (4500, 0),
        ("_services._dns-sd._udp.local", PTR): (4500, 0),
    }


def test_a_conflicting_answer_to_a_probe_renames_the_instance() -> None:
    """§8.1/§9: another host answers the first probe with a record of the probed name; the
    node picks a new name, probes it three times and announces only the new one."""
    with LinkPair() as link:
        capture = link.capture()
        peer = link.peer_socket()
        node = link.node_process(NODE)
        first = capture.wait(link.node_address, is_probe)
        peer.send(bytes(DNS(id=0, qr=1, aa=1, an=DNSRRSRV(
            rrname=INSTANCE, ttl=120, cacheflush=1, port=5562, target="other.local"))))
        node.wait_for("claimed", name="s1@s1 (2)._presence._tcp.local")
        time.sleep(1.2)
        sent = [p for p in capture.sent_by(link.node_address) if p.t > first.t]
    renamed = "s1@s1 (2)._presence._tcp.local"
    probes = [p for p in sent if is_probe(p) and (renamed, ANY, 0) in p.questions()
              or is_probe(p) and (renamed, ANY, 1) in p.questions()]
    assert len(probes) == 3
    announced = {n for p in sent if is_announcement(p) for n in p.names()}
    assert renamed in announced and INSTANCE not in announced


def test_known_answer_suppression(answering: Answering) -> None:
    """§7.1: a query listing our PTR with at least half its TTL gets no answer; the same
    query listing it with less than half the TTL left does."""
    link, capture, peer = answering.link, answering.capture, answering.peer
    ptr = DNSRR(rrname=PRESENCE, type="PTR", ttl=4500, rdata=INSTANCE)
    sent_at = answering.fresh()
    peer.send(query(DNSQR(qname=PRESENCE, qtype="PTR"), known=[ptr]))
    time.sleep(0.5)
    suppressed = [p for p in capture.sent_by(link.node_address)
                  if p.t > sent_at and answers(p, PTR, PRESENCE)]
    stale = DNSRR(rrname=PRESENCE, type="PTR", ttl=2249, rdata=INSTANCE)
    again = answering.fresh()
    peer.send(query(DNSQR(qname=PRESENCE, qtype="PTR"), known=[stale]))
    answered = capture.wait(link.node_address, lambda p: bool(answers(p, PTR, PRESENCE)),
                            after=again, timeout=1.0)
    assert suppressed == []
    assert answered.records("an")[0].rdata.decode().rstrip(".") == INSTANCE


def test_shared_answers_wait_20_to_120_ms_unique_ones_do_not(answering: Answering) -> None:
    """§6: an answer holding a shared record (PTR) is delayed 20-120 ms at random; one of
    unique records only (SRV) goes out at once."""
    link, capture, peer = answering.link, answering.capture, answering.peer
    delays = {}
    for qtype, rtype, name in (("PTR", PTR, PRESENCE), ("SRV", SRV, INSTANCE)):
        start = answering.fresh()
        peer.send(query(DNSQR(qname=name, qtype=qtype)))
        asked = capture.wait(link.peer_address, lambda p: not p.is_response, timeout=1.0,
                             after=start)
        reply = capture.wait(link.node_address,
                             lambda p, r=rtype, n=name: bool(answers(p, r, n)),
                             after=asked.t, timeout=1.0)
        delays[qtype] = reply.t - asked.t
    assert 0.020 <= delays["PTR"] <= 0.120 + LATE_S, delays
    assert delays["SRV"] < 0.020 + LATE_S, delays


def test_a_record_is_multicast_at_most_once_per_second(answering: Answering) -> None:
    """§6: three queries for the SRV 300 ms apart get one multicast answer; the next one,
    more than a second after it, gets another."""
    link, capture, peer = answering.link, answering.capture, answering.peer
    start = answering.fresh()
    for _ in range(3):
        peer.send(query(DNSQR(qname=INSTANCE, qtype="SRV")))
        time.sleep(0.3)
    time.sleep(0.5)
    peer.send(query(DNSQR(qname=INSTANCE, qtype="SRV")))
    time.sleep(0.3)
    srv = [p.t for p in capture.sent_by(link.node_address)
           if p.t > start and answers(p, SRV, INSTANCE)]
    assert len(srv) == 2, srv
    assert srv[1] - srv[0] >= 1.0


def test_duplicate_answer_suppression(answering: Answering) -> None:
    """§7.4: the node is about to answer a PTR query after its random delay; another host's
    answer with the same record goes out first, so the node does not send it again."""
    link, capture, peer = answering.link, answering.capture, answering.peer
    start = answering.fresh()
    peer.send(query(DNSQR(qname=PRESENCE, qtype="PTR")))
    peer.send(bytes(DNS(id=0, qr=1, aa=1, an=DNSRR(rrname=PRESENCE, type="PTR", ttl=4500,
                                                   rdata=INSTANCE))))
    time.sleep(0.4)
    ptr = [p for p in capture.sent_by(link.node_address)
           if p.t > start and answers(p, PTR, PRESENCE)]
    assert ptr == []


def test_cache_refresh_at_80_85_90_95_percent_of_the_ttl_then_expiry() -> None:
    """§5.2: a record the node still wants is asked for at 80, 85, 90 and 95 % of its TTL
    (plus up to 2 %); unanswered, it is gone at 100 %."""
    ttl = 3
    with LinkPair() as link:
        capture = link.capture()
        peer = link.peer_socket()
        node = link.node_process({"host": "s1", "browse": ["_presence._tcp"]})
        node.wait_for("claimed", name="s1.local")
        meter = "meter@peer._presence._tcp.local"
        peer.send(bytes(DNS(id=0, qr=1, aa=1, an=[
            DNSRR(rrname=PRESENCE, type="PTR", ttl=ttl, rdata=meter),
            DNSRRSRV(rrname=meter, ttl=ttl, cacheflush=1, port=5562, target="peer.local"),
            DNSRR(rrname=meter, type="TXT", ttl=ttl, cacheflush=1, rdata=[b"txtvers=1"]),
            DNSRR(rrname="peer.local", type="AAAA", ttl=ttl, cacheflush=1,
                  rdata=link.peer_address)])))
        announced = capture.wait(link.peer_address, lambda p: p.is_response)
        node.wait_for("service", instance="meter@peer")
        removed = node.wait_for("service-removed", timeout=ttl + 2)
        asked = [p for p in capture.sent_by(link.node_address) if not p.is_response
                 and (meter, SRV, 0) in p.questions()]
    at = [round((p.t - announced.t) / ttl, 3) for p in asked]
    assert len(at) == 4, at
    for fraction, expected in zip(at, (0.80, 0.85, 0.90, 0.95), strict=True):
        assert expected <= fraction <= expected + 0.02 + LATE_S / ttl, at
    assert removed["instance"] == "meter@peer"


def test_goodbye_sends_every_record_with_ttl_zero() -> None:
    """§10.1: on stop, one response with every record the node holds, TTL 0."""
    with LinkPair() as link:
        capture, node = started(link)
        node.stop()
        last = capture.wait(link.node_address, lambda p: p.is_response and all(
            rr.ttl == 0 for rr in p.records()), timeout=2.0)
    assert sorted((n, rr.type) for n, rr in zip(last.names(), last.records())) == sorted([
        ("s1.local", AAAA), (INSTANCE, SRV), (INSTANCE, TXT), (PRESENCE, PTR),
        ("_services._dns-sd._udp.local", PTR)])


def test_the_mechanisms_can_be_switched_off() -> None:
    """The study's switches change what goes on the air: a node with probing, known-answer
    suppression, the rate limit and goodbyes off announces at once, answers a query that
    lists its answer, answers the SRV twice within 300 ms, and leaves without a goodbye."""
    off = ["probing", "known_answer", "rate_limit", "goodbye"]
    with LinkPair() as link:
        capture = link.capture()
        node = link.node_process({**NODE, "mechanisms": {m: False for m in off}})
        node.wait_for("claimed", name=INSTANCE)
        time.sleep(2.2)  # both announcements
        peer = link.peer_socket()
        start = time.time()
        peer.send(query(DNSQR(qname=PRESENCE, qtype="PTR"), known=[
            DNSRR(rrname=PRESENCE, type="PTR", ttl=4500, rdata=INSTANCE)]))
        for _ in range(2):
            peer.send(query(DNSQR(qname=INSTANCE, qtype="SRV")))
            time.sleep(0.3)
        node.stop()
        time.sleep(0.3)
        sent = capture.sent_by(link.node_address)
    after = [p for p in sent if p.t > start]
    assert not any(is_probe(p) for p in sent) and is_announcement(sent[0])
    assert any(answers(p, PTR, PRESENCE) for p in after)
    assert len([p for p in after if answers(p, SRV, INSTANCE)]) == 2
    assert not any(p.is_response and all(rr.ttl == 0 for rr in p.records()) for p in after)
