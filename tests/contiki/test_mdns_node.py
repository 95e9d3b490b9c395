"""The C mDNS/DNS-SD engine on Contiki-NG's own netstack against python-zeroconf, both ways.

nodes/contiki/mdns-node built for TARGET=native runs in a fresh namespace with Contiki's tun
(tests/contiki/_native.py); python-zeroconf, an independent mDNS implementation, runs on
tun0 in the same namespace (nodes/xmpp-sensor/tests/zeroconf_peer.py): it must resolve the
node's `_presence._tcp` instance (SRV, TXT, addresses) and the node must resolve the one
zeroconf publishes. The engine's RFC rules are tested on the host driver
(tests/contiki/test_mdns_lib.py); the node on the emulated radio by the mDNS study's test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testbed.backends import netns
from tests.contiki import _native as native

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)"),
]


@pytest.fixture(scope="module")
def binary() -> Path:
    return native.build("mdns-node")


def test_zeroconf_and_the_contiki_node_find_each_other(binary: Path) -> None:
    with native.NativeNode(binary, {"NAME": "c1"}) as node:
        with native.ZeroconfPeer(node.netns, "browse", "_presence._tcp") as browser, \
                native.ZeroconfPeer(node.netns, "publish", "z1@z1", "_presence._tcp", "5562",
                                    "txtvers=1"):
            found = wait_for(lambda: [e for e in node.events("mdns")
                                      if e.get("what") == "service"])
            resolved = browser.wait_for("c1@c1._presence._tcp.local.")
        claimed = [e["name"] for e in node.events("mdns") if e.get("what") == "claimed"]
    mine = [s for s in resolved if s["name"] == "c1@c1._presence._tcp.local."]
    assert len(mine) == 1, f"zeroconf resolved {resolved}; the node said:\n{node.output()}"
    mine = mine[0]
    assert mine["server"] == "c1.local." and mine["port"] == 5562
    assert str(native.NODE_ADDRESS) in mine["addresses"]
    assert mine["properties"] == {"txtvers": "1", "port.p2pj": "5562", "status": "avail"}
    (theirs,) = found
    assert (theirs["instance"], theirs["host"], theirs["port"]) == ("z1@z1", "zcpeer.local",
                                                                    5562)
    assert claimed == ["c1.local", "c1@c1._presence._tcp.local"]  # probed, nobody objected


def wait_for(get: Callable[[], list[Any]], timeout_s: float = 15.0) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = get()
        if got:
            return got
        time.sleep(0.1)
    return []
