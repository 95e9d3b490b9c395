"""The SRP registrar (services/srp_server.py) as a process on a real UDP socket: the nodes'
own client (nodes/xmpp-sensor/srp.py) registers; dnspython's stub resolver functions
(dns.query.udp, an independent DNS client) ask what is registered; names are first come,
first served; what does not verify is refused; answers fit the asker's EDNS size."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from testbed.firmware import nodes_dir
from testbed.services.srp_server import P256Key

sys.path.insert(0, str(nodes_dir() / "xmpp-sensor"))
import srp  # noqa: E402 - the nodes' client, as the emulated nodes run it

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def registrar(tmp_path: Path) -> Iterator[int]:
    """The registrar on [::1] at a free port (no namespace needed for a unicast service)."""
    probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    probe.bind(("::1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = tmp_path / "srp.json"
    config.write_text(json.dumps({"port": port}))
    log = tmp_path / "srp.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "testbed.services.srp_server",
                                    str(config)], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while b"READY" not in log.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
    assert b"registered" in log.read_bytes()  # it said what it did on the way out


def exchange(port: int, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(data, ("::1", port))
        return sock.recv(65535)


def register(port: int, host: str, key: P256Key, address: str) -> srp.Client:
    c = srp.Client(host, [socket.inet_pton(socket.AF_INET6, address)], "::1", key,
                   unix_clock=time.time)
    c.publish(f"{host}@{host}", "_presence._tcp", 5562, [("txtvers", "1")])
    c.browse("_presence._tcp", 0.0)
    c.start(0.0)
    c.poll(1.0)
    ((data, _),) = c.outgoing
    c.outgoing = []
    c.receive(exchange(port, data), ("::1", port), 1.0)
    return c


def test_registered_services_are_answered_to_any_dns_client(registrar: int) -> None:
    for i in range(1, 4):
        c = register(registrar, f"n{i}", P256Key(), f"fd00::{i}")
        assert c.events == [{"mdns": "registered", "lease": 7200}]
    query = dns.message.make_query("_presence._tcp.default.service.arpa.", "PTR",
                                   use_edns=0, payload=1232)
    answer = dns.query.udp(query, "::1", port=registrar, timeout=5)
    assert answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.AA
    (ptrs,) = answer.answer
    assert sorted(r.target.labels for r in ptrs) == [
        (f"n{i}@n{i}".encode(), b"_presence", b"_tcp", b"default", b"service", b"arpa", b"")
        for i in (1, 2, 3)]
    extra = {(rrset.name.labels[0], rrset.rdtype): rrset for rrset in answer.additional}
    assert [(r.port, r.target.to_text()) for r in extra[(b"n2@n2", 33)]] == [
        (5562, "n2.default.service.arpa.")]
    assert [r.address for r in extra[(b"n2", 28)]] == ["fd00::2"]
    assert [r.strings for r in extra[(b"n2@n2", 16)]] == [(b"txtvers=1",)]
    # the nodes' own client reads the same answer into three services
    c = register(registrar, "n4", P256Key(), "fd00::4")
    c.poll(2.0)
    for data, _ in c.outgoing:
        c.receive(exchange(registrar, data), ("::1", registrar), 2.0)
    found = sorted((e["instance"], e["addresses"][0]) for e in c.events
                   if e["mdns"] == "service")
    assert found == [(f"n{i}@n{i}", f"fd00::{i}") for i in (1, 2, 3, 4)]


def test_first_come_first_served_and_what_does_not_verify_is_refused(registrar: int) -> None:
    owner = P256Key()
    register(registrar, "s1", owner, "fd00::1")
    thief = register(registrar, "s1", P256Key(), "fd00::66")  # the same name, another key
    assert thief.events == [{"mdns": "registration-refused", "rcode": "YXDOMAIN"}]
    again = register(registrar, "s1", owner, "fd00::7")  # the owner may update it
    assert again.events == [{"mdns": "registered", "lease": 7200}]
    c = srp.Client("s2", [socket.inet_pton(socket.AF_INET6, "fd00::2")], "::1", P256Key(),
                   unix_clock=time.time)
    c.publish("s2@s2", "_presence._tcp", 5562)
    c.start(0.0)
    c.poll(1.0)
    ((data, _),) = c.outgoing
    tampered = bytearray(data)
    tampered[40] ^= 0x01  # one bit of the signed part (a letter of the PTR's owner name)
    reply = dns.message.from_wire(exchange(registrar, bytes(tampered)))
    assert reply.rcode() == dns.rcode.REFUSED
    answer = dns.query.udp(dns.message.make_query("s1.default.service.arpa.", "AAAA"), "::1",
                           port=registrar, timeout=5)
    assert [r.address for rrset in answer.answer for r in rrset] == ["fd00::7"]


def test_an_answer_that_does_not_fit_the_askers_size_is_cut_and_says_so(registrar: int) -> None:
    for i in range(40):
        register(registrar, f"host-with-a-long-name-{i:02d}", P256Key(), f"fd00::{i + 1:x}")
    small = dns.query.udp(dns.message.make_query("_presence._tcp.default.service.arpa.", "PTR"),
                          "::1", port=registrar, timeout=5)  # no EDNS: 512 bytes
    assert small.flags & dns.flags.TC and len(small.to_wire()) <= 512
    large = dns.query.udp(dns.message.make_query("_presence._tcp.default.service.arpa.", "PTR",
                                                 use_edns=0, payload=8192),
                          "::1", port=registrar, timeout=5)
    assert not large.flags & dns.flags.TC and len(large.answer[0]) == 40
