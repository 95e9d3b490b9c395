"""xmpp-sensor with mDNS discovery: serverless (XEP-0174) to the collector when no server is
on the link, and over to prosody once the collector advertises one. Real parts on one link:
the sensor's main.py in one namespace; the collector (testbed.services.link_local_sink, with
python-zeroconf) and prosody in the other. Needs CAP_NET_ADMIN."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed.backends import netns as ns
from testbed.services.advertising_proxy import AdvertisingProxy
from testbed.services.deliveries import read_deliveries
from testbed.services.discovery_proxy import DiscoveryProxy
from testbed.services.link_local_sink import LinkLocalSink
from testbed.services.prosody import Prosody

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdns_peers import APP, LinkPair

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]

PEER_GLOBAL, NODE_GLOBAL = "fd55::1", "fd55::2"


class Sensor:
    def __init__(self, link: LinkPair, config: dict) -> None:
        path = Path(link.tmp) / "sensor.json"
        path.write_text(json.dumps(config))
        self.out = Path(link.tmp) / "sensor.out"
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(["ip", "netns", "exec", link.node, sys.executable,
                                          str(APP / "main.py"), str(path)], stdout=out,
                                         stderr=subprocess.STDOUT, cwd=APP)
        link.stack.callback(self.stop)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.out.read_text().splitlines()
                if line.startswith("{")]

    def wait(self, match, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if match(e):
                    return e
            time.sleep(0.05)
        raise AssertionError(f"no such event in {timeout} s: {self.out.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sensor_config(readings: int, password: str = "", proxy: str | None = None) -> dict:
    mdns = {"interface": "eth0"}
    if proxy:
        mdns["proxy"] = {"address": proxy, "domain": "pan.testbed", "poll_s": 1.0}
    return {"name": "s1", "readings": readings, "interval_s": 0.4, "sensors": ["temperature"],
            "seed": 3, "mode": "message", "domain": "iot.testbed", "user": "s1",
            "password": password, "sink": "sink@iot.testbed", "server": "", "port": 5222,
            "discovery": "mdns", "serverless": True, "collector": "sink@br",
            "discovery_timeout_s": 2.0, "backoff_cap_s": 2.0, "mdns": mdns}


def ping_the_sensor(link: LinkPair, address: str) -> str:
    """XEP-0174 §4 from the other side: open a stream to the sensor's advertised port, ping
    it (XEP-0199) and send an IQ it does not serve; what it answered, as text."""
    sock = ns.run_in_netns(link.peer, lambda: socket.socket(socket.AF_INET6))
    with sock:
        sock.settimeout(5)
        sock.connect((address, 5562))
        sock.sendall(b"<?xml version='1.0'?><stream:stream from='tester@peer' to='s1@s1' "
                     b"version='1.0' xmlns='jabber:client' "
                     b"xmlns:stream='http://etherx.jabber.org/streams'>"
                     b"<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
                     b"<iq type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>"
                     b"</stream:stream>")
        got = b""
        while b"</stream:stream>" not in got:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    return got.decode()


def global_addresses(link: LinkPair) -> None:
    ns.ip(["address", "add", f"{PEER_GLOBAL}/64", "dev", link.peer_if, "nodad"], netns=link.peer)
    ns.ip(["address", "add", f"{NODE_GLOBAL}/64", "dev", link.node_if, "nodad"], netns=link.node)


@pytest.mark.parametrize("hops", [1, 2])
def test_without_a_server_every_reading_goes_to_the_collector_over_xep_0174(hops: int) -> None:
    """One hop: the sensor hears the collector's mDNS. Two hops (a router between, which
    forwards no multicast): it asks the discovery proxy beside the collector by unicast."""
    with LinkPair(router=hops == 2) as link:
        if hops == 1:
            global_addresses(link)
        collector = PEER_GLOBAL if hops == 1 else "fd55:2::1"
        deliveries = Path(link.tmp) / "deliveries.jsonl"
        sink = link.stack.enter_context(LinkLocalSink(
            netns=link.peer, interface=link.peer_if, addresses=[collector],
            deliveries=deliveries, log=Path(link.tmp) / "collector.log"))
        if hops == 2:
            link.stack.enter_context(DiscoveryProxy(
                netns=link.peer, interface=link.peer_if, log=Path(link.tmp) / "proxy.log"))
        sensor = Sensor(link, sensor_config(5, proxy=collector if hops == 2 else None))
        sensor.wait(lambda e: e["event"] == "ready", 30)
        inbound = ping_the_sensor(link, NODE_GLOBAL if hops == 1 else "fd55:1::2")
        sensor.wait(lambda e: e["event"] == "done", 30)
        time.sleep(0.3)
        got = read_deliveries(deliveries)
        events = sensor.events()
        sink.stop()
    discovery = [e for e in events if e["event"] == "phase" and e["name"] == "discovery"]
    assert [e["found"] for e in discovery] == ["peer"]
    assert discovery[0]["mdns_bytes"] > 0 and discovery[0]["end"] - discovery[0]["start"] >= 2.0
    ready = [e for e in events if e["event"] == "ready"]
    assert [(e["jid"], e["serverless"]) for e in ready] == [("s1@s1", True)]
    assert sorted((d.node, d.seq) for d in got) == [("s1", seq) for seq in range(1, 6)]
    assert "<stream:features/>" in inbound and "from='s1@s1'" in inbound
    assert "<iq type='result' to='tester@peer' id='p1'/>" in inbound
    assert "<service-unavailable" in inbound
    found = [e for e in events if e["event"] == "mdns" and e["what"] == "service"]
    assert {e.get("via", "mdns") for e in found} == ({"mdns"} if hops == 1 else {"proxy"})


def test_the_sensor_moves_to_prosody_when_the_collector_advertises_it() -> None:
    """prosody starts mid-run; the collector (advertising proxy) announces _xmpp-client._tcp;
    the sensor closes its link-local stream and logs in to the server; readings go on."""
    password = secrets.token_urlsafe(12)
    with LinkPair() as link:
        global_addresses(link)
        deliveries = Path(link.tmp) / "deliveries.jsonl"
        sink = link.stack.enter_context(LinkLocalSink(
            netns=link.peer, interface=link.peer_if, addresses=[PEER_GLOBAL],
            deliveries=deliveries, log=Path(link.tmp) / "collector.log"))
        advertiser = link.stack.enter_context(AdvertisingProxy(
            netns=link.peer, interface=link.peer_if, log=Path(link.tmp) / "advertiser.log",
            server={"address": PEER_GLOBAL, "port": 5222, "domain": "iot.testbed"}))
        sensor = Sensor(link, sensor_config(12, password))
        sensor.wait(lambda e: e["event"] == "reading" and e["seq"] == 3, 30)
        prosody_dir = Path(link.tmp) / "prosody"
        prosody_dir.mkdir()
        link.stack.enter_context(Prosody(netns=link.peer, address=PEER_GLOBAL,
                                         accounts={"s1": password}, directory=prosody_dir))
        advertiser.wait_for(b"SERVER up", 10)
        sensor.wait(lambda e: e["event"] == "ready" and not e["serverless"], 20)
        sensor.wait(lambda e: e["event"] == "done", 30)
        events = sensor.events()
        got = read_deliveries(deliveries)
        sink.stop()
    ready = [(e["jid"].split("/")[0], e["serverless"]) for e in events if e["event"] == "ready"]
    assert ready == [("s1@s1", True), ("s1@iot.testbed", False)]
    assert [e["found"] for e in events if e.get("name") == "discovery"] == ["peer", "server"]
    over_link = {d.seq for d in got}
    sent = [e["seq"] for e in events if e["event"] == "reading"]
    assert sorted(sent) == list(range(1, 13))
    assert {1, 2, 3} <= over_link and over_link < set(sent)
