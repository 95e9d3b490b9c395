"""The console line of a frame (scapy's decode), checked against frames built by hand."""

from __future__ import annotations

import ipaddress

from testbed.capture.frames import SniffedFrame
from testbed.capture.live import describe
from testbed.lowpan.adapter import Adapter
from testbed.lowpan.mac import AddrMode, encode_ack, encode_data


def line(psdu: bytes):
    return describe(SniffedFrame(0.0, psdu, "test"))


def echo_request(size: int) -> bytes:
    """An IPv6 ICMPv6 echo request fe80::ff:fe00:2 -> fe80::ff:fe00:1 with `size` data bytes."""
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    return bytes(IPv6(src="fe80::ff:fe00:2", dst="fe80::ff:fe00:1", hlim=64)
                 / ICMPv6EchoRequest(id=7, seq=1, data=bytes(size)))


def test_ack():
    assert line(encode_ack(42)) == type(line(encode_ack(42)))(5, "-", "-", 42, "Ack")


def test_unfragmented_echo_request_names_addresses_and_icmp():
    adapter = Adapter(0xABCD, "short", ipaddress.IPv6Network("fd00::/64"))
    [psdu] = adapter.to_frames(echo_request(8), 2, 1, seq=5, tag=0)
    got = line(psdu)
    assert (got.src, got.dst, got.seq, got.length) == ("0x0002", "0x0001", 5, len(psdu))
    assert got.info.startswith("fe80::ff:fe00:2 -> fe80::ff:fe00:1 ICMPv6 Echo Request")
    assert got.info.endswith("[ack requested]")


def test_fragments_show_size_tag_and_offset():
    adapter = Adapter(0xABCD, "short", ipaddress.IPv6Network("fd00::/64"))
    first, second = adapter.to_frames(echo_request(200), 2, 1, seq=9, tag=77)
    assert line(first).info.startswith("FRAG1 size=248 tag=77")
    assert line(second).info.startswith("FRAGN size=248 tag=77 offset=")


def test_broadcast_bad_fcs_and_garbage_never_raise():
    psdu = encode_data(seq=1, pan_id=0xABCD, dst=0xFFFF, dst_mode=AddrMode.SHORT, src=3,
                       src_mode=AddrMode.SHORT, payload=b"\x00\x01", ack_request=False)
    got = line(psdu[:-1] + b"\x00")
    assert got.dst == "broadcast" and got.info.endswith("[bad FCS]")
    assert line(b"\xff\xff\xff\xff\xff").length == 5
