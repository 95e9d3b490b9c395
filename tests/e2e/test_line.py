"""A 3-hop line br - n1 - n2 - n3: ping crosses every hop, 10 kB of TCP arrive intact."""

from __future__ import annotations

import re

import pytest

from tests.e2e import traffic, tshark

pytestmark = pytest.mark.slow


def test_ping_crosses_all_hops_and_tcp_arrives_intact(network):
    with network("line-3hop") as net:
        ping = net.exec("n3", ["ping", "-6", "-c", "3", "-i", "0.5", "-W", "5", str(net.address("br"))],
                        capture_output=True, text=True, timeout=60)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # The echo reply left br with hop limit 64 and was forwarded by n1 and n2.
        assert set(re.findall(r"ttl=(\d+)", ping.stdout)) == {"62"}, ping.stdout

        to_cloud = net.exec("n3", ["ping", "-6", "-c", "2", "-W", "5", str(net.cloud_address)],
                            capture_output=True, text=True, timeout=60)
        assert to_cloud.returncode == 0, to_cloud.stdout + to_cloud.stderr

        sent, received = traffic.tcp_transfer(net, "n3", 10_240, port=5001, timeout=180)
        assert received["bytes"] == 10_240
        assert received["sha256"] == sent["sha256"]
        assert received["peer"] == str(net.address("n3"))
        print(f"10 kB over 3 hops + border router in {sent['seconds']:.2f} s")
        capture = net.capture_path

    counts = tshark.check_capture(capture)
    senders = {row[0] for row in tshark.fields(capture, "wpan.src16", display_filter="wpan.frame_type == 1")}
    # every node on the path transmitted data frames: the route really is the line
    assert senders >= {"0x0001", "0x0002", "0x0003", "0x0004"}, senders
    # 1280-byte TCP segments were fragmented, and Wireshark put the fragments back together
    reassembled = tshark.fields(capture, "6lowpan.reassembled.length", "ipv6.src",
                                display_filter="6lowpan.reassembled.length")
    assert reassembled, "no reassembled 6LoWPAN datagram in the capture"
    assert all(row[1] for row in reassembled), "reassembled datagrams without an IPv6 header"
    print(counts)
