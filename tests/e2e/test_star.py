"""A star: six sensors around the border router, UDP both ways between each and the cloud."""

from __future__ import annotations

import pytest

from tests.e2e import traffic, tshark

pytestmark = pytest.mark.slow


def test_udp_both_ways_with_every_sensor(network):
    with network("star-6") as net:
        sensors = [n for n in net.nodes if n != "br"]
        assert len(sensors) == 6
        echo = net.popen("cloud", traffic.argv(traffic.UDP_ECHO, 5700, len(sensors)),
                         stdout=-1, stderr=-1, text=True)
        try:
            traffic.wait_listening(echo)
            clients = {
                s: net.popen(s, traffic.argv(traffic.UDP_PING, net.cloud_address, 5700, f"hello from {s}"),
                             stdout=-1, stderr=-1, text=True)
                for s in sensors
            }
            replies = {s: traffic.last_json(p.communicate(timeout=60)[0]) for s, p in clients.items()}
            seen = traffic.last_json(echo.communicate(timeout=30)[0])["received"]
        finally:
            echo.kill()
            echo.wait()
        for s in sensors:
            assert replies[s]["reply"] == f"echo:hello from {s}", replies[s]
        assert {peer for peer, _ in seen} == {str(net.address(s)) for s in sensors}
        capture = net.capture_path
    counts = tshark.check_capture(capture)
    assert counts["acks"] > 0


def test_wireshark_learns_the_pan_context_from_the_border_router(network):
    """Context-compressed addresses decode with no preference: the 6LBR's RA carries a 6CO."""
    with network("star-6") as net:
        ping = net.exec("s3", ["ping", "-6", "-c", "1", "-W", "5", str(net.address("br"))],
                        capture_output=True, text=True, timeout=30)
        assert ping.returncode == 0, ping.stdout
        capture, s3, br = net.capture_path, str(net.address("s3")), str(net.address("br"))
    rows = tshark.fields(capture, "icmpv6.type", "icmpv6.opt.6co.context_prefix", "ipv6.src", "ipv6.dst",
                         display_filter="icmpv6")
    assert rows[0][0] == "134" and rows[0][1] == "fd00::", rows[0]  # the RA with its 6CO comes first
    assert [s3, br] in [row[2:] for row in rows if row[0] == "128"], rows  # echo request, full addresses
