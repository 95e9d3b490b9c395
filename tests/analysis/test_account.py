"""Every byte attributed, on hand-built captures whose bytes per layer are known in advance."""

from __future__ import annotations

from ipaddress import IPv6Address
from pathlib import Path

import pytest

from testbed.analysis.account import analyze, analyze_capture
from testbed.errors import BadInput

from .frames import CLOUD, Air, address, coap_get, tcp, udp
from .sessions import (
    BR, FEATURES, HEADER, MESSAGE, PRESENCE, SENSOR, presence_and_reading, tls_session,
    xmpp_session,
)


def _invariants(report) -> None:  # type: ignore[no-untyped-def]
    assert sum(report.by_layer.values()) == report.bytes + 6 * report.frames == report.total_bytes
    assert sum(p["bytes"] for p in report.by_purpose.values()) == report.total_bytes
    assert sum(p["frames"] for p in report.by_purpose.values()) == report.frames
    pr = report.per_reading
    assert pr["bytes"] * pr["readings"] + report.setup["bytes"] + report.overhead["bytes"] == \
        pytest.approx(report.total_bytes, abs=1e-6)
    assert pr["frames_total"] + report.setup["frames"] + report.overhead["frames"] == report.frames


def test_a_coap_get_and_its_answer_byte_by_byte() -> None:
    air = Air()
    request = coap_get(0x0102, b"\xab", "temperature")  # 17 bytes
    answer = bytes((0x61, 0x45, 0x01, 0x02, 0xAB, 0xFF)) + b"seq=1 t=1.000 v=2.0"  # 25 bytes
    air.send(udp(address(BR), address(SENSOR), 5683, 5683, request), BR, SENSOR)
    air.send(udp(address(SENSOR), address(BR), 5683, 5683, answer), SENSOR, BR)
    # each data frame: MHR 9 + FCS 2 (short addresses, PAN ID compression), IPHC 2 (both
    # addresses from context 0 and the MAC, hop limit 64, UDP NHC), UDP NHC 7 (0xF0, ports
    # 5683 inline 4, checksum 2), then the CoAP message; ACK frames 5; SHR+PHR 6 a frame.
    assert [len(f) for f in air.frames] == [11 + 2 + 7 + 17, 5, 11 + 2 + 7 + 25, 5]
    report = analyze(air.timed())
    assert report.by_layer == {"phy": 24, "mac": 22, "ack": 10, "lowpan": 4, "transport": 14,
                               "icmpv6": 0, "app": 42}
    assert (report.frames, report.bytes, report.ack_frames, report.total_bytes) == (4, 92, 2, 116)
    assert report.by_purpose == {"coap-request": {"bytes": 43, "frames": 1},
                                 "coap-response": {"bytes": 51, "frames": 1},
                                 "mac-ack": {"bytes": 22, "frames": 2}}
    assert report.per_reading["readings"] == 1 and report.per_reading["bytes"] == 116
    assert report.setup == {"bytes": 0, "frames": 0} and report.overhead["bytes"] == 0
    assert report.payload == {"tcp": 0, "udp": 42}
    # the reading's own message: the answer, one frame of 11 + 2 + 7 + 25 bytes + SHR/PHR
    assert {k: v for k, v in report.per_reading.items() if k.startswith("message")} == {
        "messages": 1, "message_bytes": 51, "message_frames": 1, "message_frames_max": 1,
        "message_one_frame": 1}
    # the implementations' identifiers: the 1-byte token in the request and in its answer
    assert report.per_reading["identifier_bytes"] == 2
    _invariants(report)


def test_xmpp_ids_are_the_identifier_bytes_of_their_reading() -> None:
    """An iq readout (the sink's id 'a1f', 13 bytes as ` id='a1f'`) and its result (the same
    id) belong to the reading the result carries; a message with no id adds nothing."""
    c, s = address(SENSOR), CLOUD
    get = (b"<iq type='get' id='a1f' to='s2@iot.testbed/sensor'>"
           b"<req xmlns='urn:xmpp:iot:sensordata' momentary='true'/></iq>")
    result = MESSAGE.replace(b"<message to='sink@iot.testbed' type='chat'>",
                             b"<iq type='result' id='a1f' to='sink@iot.testbed'>").replace(
                                 b"</message>", b"</iq>")
    air = Air()
    air.send(tcp(c, s, 40000, 5222, 100, 0, "S"), SENSOR, BR)
    air.send(tcp(s, c, 5222, 40000, 500, 101, "SA"), BR, SENSOR)
    air.send(tcp(c, s, 40000, 5222, 101, 501, "PA", HEADER + PRESENCE), SENSOR, BR)
    air.send(tcp(s, c, 5222, 40000, 501, 101 + len(HEADER + PRESENCE), "PA", HEADER + get),
             BR, SENSOR)
    at = 101 + len(HEADER + PRESENCE)
    air.send(tcp(c, s, 40000, 5222, at, 501 + len(HEADER + get), "PA", result), SENSOR, BR)
    air.send(tcp(c, s, 40000, 5222, at + len(result), 501 + len(HEADER + get), "PA", MESSAGE),
             SENSOR, BR)
    report = analyze(air.timed())
    _invariants(report)
    assert report.per_reading["readings"] == 1  # seqnr 1 in the result and the message
    assert report.per_reading["identifier_bytes"] == 2 * len(" id='a1f'")




def test_an_xmpp_session_setup_reading_retransmission_teardown() -> None:
    air = Air()
    marks = xmpp_session(air)
    on_air = [len(f) + 6 for f in air.frames]
    report = analyze(air.timed())
    _invariants(report)
    assert report.retransmissions == {"mac": 1, "transport": 1}
    # set-up: the handshake up to and including the presence (every frame before the reading)
    assert report.setup["bytes"] == sum(on_air[:marks["reading"]])
    # the reading: its message (fragments, the MAC retry, ACKs), the TCP ACK answering it and
    # the transport retransmission of it (a cost of delivering that reading)
    assert report.per_reading["readings"] == 1
    assert report.per_reading["bytes"] == sum(on_air[marks["reading"]:marks["teardown"]])
    assert report.by_purpose["tcp-retransmission"]["bytes"] == sum(  # its ACK frames: mac-ack
        n for n in on_air[marks["retransmission"]:marks["teardown"]] if n != 11)
    # overhead: the FIN (teardown)
    assert report.overhead["bytes"] == sum(on_air[marks["teardown"]:])
    fragmented = [n for n in air.datagrams if n > 1]
    assert report.fragmentation["fragmented"] == len(fragmented) >= 2
    assert report.fragmentation["fragments_per_datagram_max"] == max(fragmented)
    assert report.fragmentation["datagrams"] == len(air.datagrams)
    assert report.fragments == sum(fragmented) + 1  # + the MAC retry of a fragment
    # layers: 8 segments' TCP headers, the XML bytes, one IPHC of 19 bytes per datagram
    # (addresses: sensor from the MAC, cloud inline 16, next header inline 1), FRAG headers
    retried = air.frames[marks["reading"] + 2]  # the MAC retry: a FRAGN of the message
    assert air.frames[marks["reading"] + 3] == retried and retried[9] & 0xF8 == 0xE0
    assert report.by_layer["transport"] == 20 * len(air.datagrams)
    xml = 2 * len(HEADER) + len(FEATURES) + len(PRESENCE) + 2 * len(MESSAGE)
    assert report.by_layer["app"] == xml + len(retried) - 11 - 5
    assert report.by_layer["lowpan"] == 19 * len(air.datagrams) + 4 * len(fragmented) + 5 * (
        sum(fragmented) - len(fragmented) + 1)
    assert report.by_layer["mac"] == 11 * (len(air.frames) - report.ack_frames)
    assert report.by_layer["ack"] == 5 * report.ack_frames
    purposes = report.by_purpose
    assert {"tcp-handshake", "xmpp-stream", "xmpp-presence", "xmpp-message", "tcp-ack",
            "tcp-retransmission", "tcp-fin", "mac-ack"} <= set(purposes)
    # the reading's own message: the 7th datagram's fragments, once (not the MAC retry of one,
    # not the TCP retransmission of the whole segment, not the ACKs)
    fragments = air.datagrams[6]
    data = [f for f in air.frames[marks["reading"]:marks["retransmission"]] if len(f) != 5]
    first = [f for i, f in enumerate(data) if i == 0 or f != data[i - 1]][:fragments]
    assert fragments >= 2 and report.per_reading["message_frames"] == fragments
    assert report.per_reading["message_bytes"] == sum(len(f) + 6 for f in first)
    assert report.per_reading["message_one_frame"] == 0


def test_the_same_from_a_pcap_file_and_a_damaged_one(tmp_path: Path) -> None:
    air = Air()
    xmpp_session(air)
    path = air.write(tmp_path / "x.pcap")
    assert analyze_capture(path) == analyze(air.timed())
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(BadInput, match=r"offset \d+: truncated frame"):
        analyze_capture(path)


def test_undecodable_frames_count_as_mac_overhead() -> None:
    air = Air()
    air.frames.append(b"\x41\xcc\x00garbage-with-a-bad-fcs")
    report = analyze(air.timed())
    assert report.undecodable == 1 and report.by_layer["mac"] == len(air.frames[0])
    assert report.overhead["bytes"] == report.total_bytes
    _invariants(report)


def test_a_bad_fcs_read_from_a_file_is_still_caught(tmp_path: Path) -> None:
    air = Air()
    xmpp_session(air)
    good = analyze(air.timed())
    air.frames[0] = air.frames[0][:-1] + bytes((air.frames[0][-1] ^ 1,))
    report = analyze_capture(air.write(tmp_path / "bad-fcs.pcap"))
    assert report.undecodable == good.undecodable + 1 == 1
    _invariants(report)


@pytest.mark.parametrize("held_back", [False, True], ids=["on-time", "held-back"])
def test_tls_readings_attributed_by_time_from_the_nodes_own_events(held_back: bool) -> None:
    air = Air()
    marks = tls_session(air)
    on_air = [len(f) + 6 for f in air.frames]
    timed = air.timed()
    blind = analyze(timed)  # no timeline: nothing tells the encrypted readings apart
    _invariants(blind)
    assert blind.per_reading["readings"] == 0 and blind.per_reading["method"] == "seq"
    # the reading events: reading 1 taken just after the presence was written, before it is on
    # the air; reading 2 just before its record goes out, or (held back: a busy radio) before
    # even reading 1's record is on the air
    t1 = timed[marks["presence"]][0] - 0.001
    t2 = timed[marks["reading2"]][0] - 0.001 if not held_back else t1 + 0.0005
    report = analyze(timed, timeline={SENSOR: [(t2, 2), (t1, 1)]})
    _invariants(report)
    assert report.per_reading["method"] == "time" and report.per_reading["readings"] == 2
    reading1 = sum(on_air[marks["reading1"]:marks["keepalive"]])
    reading2 = sum(on_air[marks["reading2"]:marks["close"]])
    assert report.per_reading["bytes_total"] == reading1 + reading2
    assert (report.per_reading["bytes_min"], report.per_reading["bytes_max"]) == (
        min(reading1, reading2), max(reading1, reading2))
    # set-up: TCP and STARTTLS, the TLS handshake and everything written before reading 1
    assert report.setup["bytes"] == sum(on_air[:marks["reading1"]])
    assert report.overhead["bytes"] == sum(on_air[marks["keepalive"]:marks["reading2"]]) + sum(
        on_air[marks["close"]:])
    assert report.by_purpose == blind.by_purpose  # what the bytes are for does not change
    # the same timeline keyed by IPv6 address
    assert analyze(timed, timeline={str(IPv6Address(address(SENSOR))): [(t1, 1), (t2, 2)]}) \
        == report


def test_a_timeline_does_not_change_readable_readings() -> None:
    air = Air()
    xmpp_session(air)
    timed = air.timed()
    assert analyze(timed, timeline={SENSOR: [(timed[0][0], 1)]}) == analyze(timed)


def test_a_segment_after_a_lost_one_counts_its_bytes_once() -> None:
    """A segment past a gap in its stream (the one before it never on this capture) stays
    pending: no XMPP element covers its bytes, yet each of them is in one layer only."""
    air = Air()
    s, c = address(SENSOR), CLOUD
    air.send(tcp(s, c, 40000, 5222, 100, 0, "S"), SENSOR, BR)
    air.send(tcp(c, s, 5222, 40000, 500, 101, "SA"), BR, SENSOR)
    air.send(tcp(s, c, 40000, 5222, 101, 501, "PA", b"<?xml version='1.0'?>"), SENSOR, BR)
    # bytes 21..39 of the stream were lost; this segment carries 40..63
    air.send(tcp(s, c, 40000, 5222, 141, 501, "PA", b"<presence id='p1'/>     "), SENSOR, BR)
    report = analyze(air.timed())
    _invariants(report)
    assert report.by_layer["app"] == 21 + 24
    assert report.by_layer["transport"] == 20 * 4


def test_a_retransmission_splits_over_the_elements_it_repeats() -> None:
    """A TCP retransmission of a segment carrying the presence and reading 1 counts for each
    as the first copy did, not all for the element its first byte belongs to."""
    once, twice = Air(), Air()
    presence_and_reading(once, [(SENSOR, BR)])
    presence_and_reading(twice, [(SENSOR, BR)], repeat=True)
    first, again = analyze(once.timed()), analyze(twice.timed())
    _invariants(again)
    assert again.retransmissions["transport"] == 1
    assert first.per_reading["readings"] == again.per_reading["readings"] == 1
    coalesced = sum(len(f) + 6 for f in twice.frames[-2 * twice.datagrams[-1]:])
    gained = again.per_reading["bytes"] - first.per_reading["bytes"]
    assert 0 < gained < coalesced  # the presence's share of the copy went to set-up
    assert gained == first.per_reading["bytes"]  # the same share as the first copy's
    assert again.by_purpose["tcp-retransmission"]["bytes"] + \
        again.by_purpose["mac-ack"]["bytes"] - first.by_purpose["mac-ack"]["bytes"] == coalesced


def test_bytes_one_hop_missed_are_read_from_another_hop() -> None:
    """Two hops; the sniffer missed the header segment on the second: its later segments
    still carry the reading (TCP's sequence numbers are the same on every hop), counted as
    on the first hop, not as the last element before the gap."""
    router = 3
    hops = [(SENSOR, router), (router, BR)]
    heard, missed = Air(), Air()
    presence_and_reading(heard, hops)
    presence_and_reading(missed, hops, lost_on=hops[1])
    full, gap = analyze(heard.timed()), analyze(missed.timed())
    _invariants(gap)
    assert gap.per_reading["readings"] == 1
    assert gap.per_reading["bytes"] == full.per_reading["bytes"]
    assert gap.setup["bytes"] == full.setup["bytes"] - sum(
        len(f) + 6 for f in heard.frames) + sum(len(f) + 6 for f in missed.frames)
