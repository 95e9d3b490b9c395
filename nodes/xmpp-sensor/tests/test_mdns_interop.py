"""The node's mDNS/DNS-SD against the real implementations, both directions, on one link:
avahi-daemon (its own dbus-daemon, avahi-browse -r, avahi-publish) and python-zeroconf.
Needs CAP_NET_ADMIN (network namespaces)."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from testbed.backends import netns as ns

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdns_peers import LinkPair

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not ns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]

PRESENCE_TXT = [["txtvers", "1"], ["port.p2pj", "5562"], ["status", "avail"]]
NODE = {"host": "s1", "services": [{"instance": "s1@s1", "type": "_presence._tcp",
                                    "port": 5562, "txt": PRESENCE_TXT}]}
ZEROCONF_PEER = Path(__file__).resolve().parent / "zeroconf_peer.py"


def unescape(label: str) -> str:
    """avahi-browse -p escapes label bytes as backslash + three decimal digits."""
    return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), label)


def needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.fail(f"{program} is not installed: `make test` installs it (Debian package)")


def test_avahi_browse_resolves_the_nodes_presence_and_xmpp_client_services() -> None:
    needs("avahi-daemon")
    with LinkPair() as link:
        avahi = link.avahi()
        node = link.node_process({**NODE, "services": [
            *NODE["services"],
            {"instance": "s1", "type": "_xmpp-client._tcp", "port": 5222, "txt": []}]})
        node.wait_for("claimed", name="s1@s1._presence._tcp.local")
        presence = avahi.browse("_presence._tcp")
        client = avahi.browse("_xmpp-client._tcp")
    # avahi-browse -p: =;iface;proto;name;type;domain;host;address;port;txt
    assert len(presence) == 1, presence
    _, _, proto, name, _, _, host, address, port, txt = presence[0]
    assert (proto, unescape(name), host, address, port) == ("IPv6", "s1@s1", "s1.local",
                                                  link.node_address, "5562")
    assert sorted(txt.split(" ")) == ['"port.p2pj=5562"', '"status=avail"', '"txtvers=1"']
    assert [(r[3], r[6], r[8]) for r in client] == [("s1", "s1.local", "5222")]


def test_the_node_resolves_a_service_avahi_publishes() -> None:
    needs("avahi-publish")
    with LinkPair() as link:
        avahi = link.avahi()
        avahi.publish("prosody", "_xmpp-client._tcp", 5222, "note=cloud")
        node = link.node_process({"host": "s1", "browse": ["_xmpp-client._tcp"]})
        found = node.wait_for("service", instance="prosody")
    assert found["host"] == "peer.local" and found["port"] == 5222
    assert found["addresses"] == [link.peer_address] and found["txt"] == ["note=cloud"]
    assert found["type"] == "_xmpp-client._tcp"


def test_avahi_publishing_the_same_instance_makes_the_node_rename() -> None:
    """RFC 6762 §9 against a real responder: avahi holds s1@s1 first, the node probes,
    hears avahi's answer and takes 's1@s1 (2)'; avahi-browse then sees both."""
    with LinkPair() as link:
        avahi = link.avahi()
        avahi.publish("s1@s1", "_presence._tcp", 5562, "txtvers=1")
        node = link.node_process(NODE)
        conflict = node.wait_for("conflict")
        node.wait_for("claimed", name="s1@s1 (2)._presence._tcp.local")
        names = sorted(unescape(r[3]) for r in avahi.browse("_presence._tcp"))
    assert conflict["name"] == "s1@s1._presence._tcp.local"
    assert conflict["renamed"] == "s1@s1 (2)._presence._tcp.local"
    assert names == ["s1@s1", "s1@s1 (2)"]


def zeroconf_peer(link: LinkPair, *args: str):
    proc = link.peer_process([sys.executable, str(ZEROCONF_PEER), link.peer_if, *args])
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline() or "{}")
    assert first == {"ready": True}, first
    return proc


def test_zeroconf_resolves_the_nodes_presence_service() -> None:
    with LinkPair() as link:
        proc = zeroconf_peer(link, "browse", "_presence._tcp")
        link.node_process(NODE)
        line = proc.stdout.readline()
    service = json.loads(line)["service"]
    assert service["name"] == "s1@s1._presence._tcp.local."
    assert service["server"] == "s1.local." and service["port"] == 5562
    assert service["addresses"] == [link.node_address]
    assert service["properties"] == {"txtvers": "1", "port.p2pj": "5562", "status": "avail"}


def test_the_node_resolves_a_service_zeroconf_publishes() -> None:
    with LinkPair() as link:
        zeroconf_peer(link, "publish", "meter@zcpeer", "_presence._tcp", "5562", "txtvers=1",
                      "port.p2pj=5562")
        node = link.node_process({"host": "s1", "browse": ["_presence._tcp"]})
        found = node.wait_for("service", instance="meter@zcpeer")
        time.sleep(0.1)
    assert found["host"] == "zcpeer.local" and found["port"] == 5562
    assert found["addresses"] == [link.peer_address]
    assert sorted(found["txt"]) == ["port.p2pj=5562", "txtvers=1"]
