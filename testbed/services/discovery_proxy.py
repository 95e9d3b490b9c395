"""A DNS-SD discovery proxy (RFC 8766) on the border router: mDNS on its link, unicast DNS to
the whole PAN.

mDNS reaches one hop (ff02::fb); a sensor two hops from the border router cannot hear what is
announced there. The proxy browses its link with python-zeroconf and answers ordinary unicast
DNS queries (port 53, dnspython's codec) for names under its domain ("pan.testbed."), which
it maps to ".local." (RFC 8766 §5.5): a PTR question for `_presence._tcp.pan.testbed.`
answers with the instances cached for `_presence._tcp.local.`, their SRV, TXT and AAAA records
in the additional section (RFC 6763 §12). Routed unicast crosses hops like any datagram.

Unicast DNS has no goodbye: answers carry at most MAX_TTL_S (10 s) of the mDNS TTL left, so a
client that asks again learns within that time that a service went away.

`python -m testbed.services.discovery_proxy CONFIG.json` ({"interface", "domain", "types",
"port"}) prints READY once it listens; `DiscoveryProxy` runs it in a namespace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from testbed.services.process import ServiceProcess, say, stop_on_signals, zeroconf_on

DNS_PORT = 53
MAX_TTL_S = 10


def to_local(name: str, domain: str) -> str | None:
    """'x._presence._tcp.pan.testbed.' -> 'x._presence._tcp.local.'; None outside the domain."""
    name, domain = name.lower(), domain.lower().rstrip(".") + "."
    if not name.endswith("." + domain):
        return None
    return name[: -len(domain)] + "local."


def from_local(name: str, domain: str) -> str:
    return name[: -len("local.")] + domain.rstrip(".") + "."


class Answers:
    """Builds a unicast answer from zeroconf's cache of the link."""

    def __init__(self, zc: Any, domain: str) -> None:
        self.zc, self.domain = zc, domain

    def cached(self, name: str, rtype: int) -> list[Any]:
        from zeroconf import current_time_millis

        now = current_time_millis()
        return [r for r in self.zc.cache.async_all_by_details(name, rtype, 1)
                if not r.is_expired(now)]

    def ttl(self, record: Any) -> int:
        from zeroconf import current_time_millis

        return max(0, min(MAX_TTL_S, int(record.get_remaining_ttl(current_time_millis()))))

    def respond(self, query: Any) -> Any:
        import dns.flags
        import dns.message
        import dns.rdatatype

        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for question in query.question:
            local = to_local(question.name.to_text(), self.domain)
            if local is None:
                continue
            rtype = question.rdtype
            for record, section in self.records(local, rtype):
                self.add(response, record, section)
        return response

    def records(self, local: str, rtype: int) -> list[tuple[Any, str]]:
        from zeroconf import const

        wanted = {12: [const._TYPE_PTR], 33: [const._TYPE_SRV], 16: [const._TYPE_TXT],
                  28: [const._TYPE_AAAA], 255: [const._TYPE_PTR, const._TYPE_SRV,
                                                const._TYPE_TXT, const._TYPE_AAAA]}
        out: list[tuple[Any, str]] = []
        for t in wanted.get(rtype, []):
            for record in self.cached(local, t):
                out.append((record, "answer"))
                out += self.additional(record)
        return out

    def additional(self, record: Any) -> list[tuple[Any, str]]:
        from zeroconf import const

        extra: list[tuple[Any, str]] = []
        if record.type == const._TYPE_PTR:
            for t in (const._TYPE_SRV, const._TYPE_TXT):
                for r in self.cached(record.alias, t):
                    extra.append((r, "additional"))
                    extra += self.additional(r)
        elif record.type == const._TYPE_SRV:
            extra += [(r, "additional") for r in self.cached(record.server, const._TYPE_AAAA)]
        return extra

    def add(self, response: Any, record: Any, section: str) -> None:
        import dns.name
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        from zeroconf import const

        name = dns.name.from_text(from_local(record.name, self.domain))
        if record.type == const._TYPE_PTR:
            text = from_local(record.alias, self.domain)
            rdtype = dns.rdatatype.PTR
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, dns.name.from_text(text)
                                        .to_text())
        elif record.type == const._TYPE_SRV:
            rdtype = dns.rdatatype.SRV
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, "%d %d %d %s" % (
                record.priority, record.weight, record.port,
                from_local(record.server, self.domain)))
        elif record.type == const._TYPE_TXT:
            rdtype = dns.rdatatype.TXT
            text = record.text or b"\0"  # RFC 6763 §6.1: an empty TXT is one empty string
            rdata = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, text, 0, len(text))
        elif record.type == const._TYPE_AAAA:
            rdtype = dns.rdatatype.AAAA
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype,
                                        socket.inet_ntop(socket.AF_INET6, record.address))
        else:
            return
        target = response.answer if section == "answer" else response.additional
        rrset = response.find_rrset(target, name, dns.rdataclass.IN, rdtype, create=True)
        if rdata not in rrset:
            rrset.add(rdata, self.ttl(record))


class Server(asyncio.DatagramProtocol):
    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.transport: asyncio.DatagramTransport | None = None
        self.served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        import dns.exception
        import dns.message

        import dns.rcode

        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException as exc:
            logging.warning("%s: malformed query: %s", addr[0], exc)
            return
        try:
            response = self.answers.respond(query)
        except (dns.exception.DNSException, ValueError) as exc:  # a record it cannot convert
            logging.warning("%s: %s: %s", addr[0], query.question, exc)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)
        self.served += 1
        logging.info("%s asked %s: %d answers, %d additional", addr[0],
                     " ".join(q.to_text() for q in query.question),
                     sum(len(r) for r in response.answer),
                     sum(len(r) for r in response.additional))


async def run(config: dict[str, Any]) -> None:
    from zeroconf.asyncio import AsyncServiceBrowser

    stop = stop_on_signals()
    azc = zeroconf_on(config["interface"])
    browsers = [AsyncServiceBrowser(azc.zeroconf, f"{t}.local.", handlers=[lambda **_: None])
                for t in config.get("types", ())]
    answers = Answers(azc.zeroconf, config["domain"])
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::", int(config.get("port", DNS_PORT))))
    transport, server = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Server(answers), sock=sock)
    say("READY")
    await stop.wait()
    transport.close()
    for browser in browsers:
        await browser.async_cancel()
    await azc.async_close()
    say(f"served {server.served} queries")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(json.loads(Path(argv[1]).read_text())))
    return 0


class DiscoveryProxy(ServiceProcess):
    """`with DiscoveryProxy(netns="br", interface="wpan0", domain="pan.testbed", ...)`: the
    proxy in `netns`; __enter__ waits for READY, __exit__ stops it."""

    module, what = "discovery_proxy", "discovery proxy"

    def __init__(self, *, netns: str, interface: str, log: Path, domain: str = "pan.testbed",
                 types: tuple[str, ...] = ("_xmpp-client._tcp", "_presence._tcp"),
                 port: int = DNS_PORT) -> None:
        super().__init__(netns=netns, log=log, config={
            "interface": interface, "domain": domain, "types": list(types), "port": port})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
