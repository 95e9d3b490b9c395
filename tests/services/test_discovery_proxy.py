"""The discovery proxy (RFC 8766) answers unicast DNS from what mDNS says on its link: asked
with dnspython from two hops away, across a router that forwards no multicast; the collector
announces itself with python-zeroconf on the proxy's link. Needs CAP_NET_ADMIN."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest

from testbed.backends import netns as ns
from testbed.services.discovery_proxy import MAX_TTL_S, DiscoveryProxy, to_local
from testbed.services.link_local_sink import LinkLocalSink

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "nodes" / "xmpp-sensor" / "tests"))

from mdns_peers import LinkPair

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]

PROXY = "fd55:2::1"


def ask(link: LinkPair, name: str, rdtype: str = "PTR") -> dns.message.Message:
    sock = ns.run_in_netns(link.node, lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
    with sock:
        return dns.query.udp(dns.message.make_query(name, rdtype), PROXY, timeout=3, sock=sock)


def test_names_map_between_the_domain_and_local() -> None:
    assert to_local("sink@br._presence._tcp.pan.testbed.", "pan.testbed") == \
        "sink@br._presence._tcp.local."
    assert to_local("example.org.", "pan.testbed") is None


def test_a_ptr_question_two_hops_away_gets_the_instance_and_its_records() -> None:
    with LinkPair(router=True) as link:
        collector = link.stack.enter_context(LinkLocalSink(
            netns=link.peer, interface=link.peer_if, addresses=[PROXY],
            deliveries=Path(link.tmp) / "d.jsonl", log=Path(link.tmp) / "collector.log"))
        link.stack.enter_context(DiscoveryProxy(netns=link.peer, interface=link.peer_if,
                                                log=Path(link.tmp) / "proxy.log"))
        deadline = time.monotonic() + 10
        while not (answer := ask(link, "_presence._tcp.pan.testbed.")).answer:
            assert time.monotonic() < deadline, "the proxy never listed the collector"
            time.sleep(0.3)
        outside = ask(link, "_presence._tcp.example.org.")
        collector.stop()  # its goodbye reaches the proxy's zeroconf cache
        time.sleep(2.0)
        gone = ask(link, "_presence._tcp.pan.testbed.")
    ptr, = answer.answer
    assert (ptr.name.to_text(), ptr.rdtype) == ("_presence._tcp.pan.testbed.", dns.rdatatype.PTR)
    instance = (b"sink@br", b"_presence", b"_tcp", b"pan", b"testbed", b"")
    assert [r.target.labels for r in ptr] == [instance]
    extra = {(rrset.name.labels, dns.rdatatype.to_text(rrset.rdtype)): rrset
             for rrset in answer.additional}
    srv = extra[(instance, "SRV")][0]
    assert (srv.port, srv.target.to_text()) == (5562, "br.pan.testbed.")
    txt = extra[(instance, "TXT")][0]
    assert txt.strings[0] == b"txtvers=1" and b"port.p2pj=5562" in txt.strings
    host = (b"br", b"pan", b"testbed", b"")
    assert [r.address for r in extra[(host, "AAAA")]] == [PROXY]
    assert all(rrset.ttl <= MAX_TTL_S for rrset in [*answer.answer, *answer.additional])
    assert answer.flags & dns.flags.AA
    assert outside.answer == [] and gone.answer == []
