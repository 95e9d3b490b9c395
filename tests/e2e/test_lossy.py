"""A lossy hop (prr 0.7): the MAC retransmits, TCP still delivers every byte."""

from __future__ import annotations

import json

import pytest

from tests.e2e import traffic, tshark

pytestmark = pytest.mark.slow


def test_tcp_delivers_everything_over_a_lossy_link(network):
    with network("lossy", seed=7) as net:
        sink = net.popen("cloud", traffic.argv(traffic.TCP_SINK, 5002, 10_240),
                         stdout=-1, stderr=-1, text=True)
        try:
            traffic.wait_listening(sink)
            source = net.exec("n2", traffic.argv(traffic.TCP_SOURCE, net.cloud_address, 5002, 10_240),
                              capture_output=True, text=True, timeout=280)
            assert source.returncode == 0, source.stderr
            received = traffic.last_json(sink.communicate(timeout=30)[0])
        finally:
            sink.kill()
            sink.wait()
        assert received["bytes"] == 10_240
        assert received["sha256"] == traffic.last_json(source.stdout)["sha256"]
        capture, stats_path = net.capture_path, net.stats_path
    stats = json.loads(stats_path.read_text())
    print(json.dumps(stats, indent=1)[:2000])
    tshark.check_capture(capture)
