"""A lossy hop (prr 0.7): the MAC retransmits, TCP still delivers every byte."""

from __future__ import annotations

import json

import pytest

from tests.e2e import traffic, tshark

pytestmark = pytest.mark.slow


def test_tcp_delivers_everything_over_a_lossy_link(network):
    with network("lossy", seed=7) as net:
        sent, received = traffic.tcp_transfer(net, "n2", 4_096, port=5002, timeout=280)
        assert received["bytes"] == 4_096
        assert received["sha256"] == sent["sha256"]
        capture, stats_path = net.capture_path, net.stats_path
    stats = json.loads(stats_path.read_text())
    print(json.dumps(stats, indent=1)[:2000])
    tshark.check_capture(capture)
