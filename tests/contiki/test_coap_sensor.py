"""nodes/contiki/coap-sensor, the C coap-sensor on Contiki-NG's CoAP engine, against the
Python app's behaviour (nodes/coap-sensor) with real parts only.

The app is built for TARGET=native and runs as a Linux process in a fresh network namespace
with Contiki's native tun (tests/contiki/_native.py: tun0 is configured with `ip` from the
test, because tun6-net.c's ifconfig calls are kept from running). libcoap's coap-client is
the independent oracle: its debug log shows every message as libcoap decodes it (type, code,
options, payload). Expected values, payloads and link format come from the Python app's own
functions; SenML CBOR is also decoded with cbor2. The project's CoAP sink
(testbed/services/coap_sink.py, aiocoap) runs against the node in every mode. The board
build (cc2538dk, arm-none-eabi-gcc) must compile, link and fit the board.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import cbor2
import pytest

from testbed.contiki.build import Target, build_firmware

from testbed.services.coap_sink import CoapSink
from testbed.services.deliveries import read_deliveries

from ._native import (APPS, ROOT, CoapMessage, NativeNode, ZeroconfPeer, build, coap_client,
                      load_python_module, received)

COAP_APP = ROOT / "nodes" / "coap-sensor"
coap_main = load_python_module("coap_sensor_main", COAP_APP / "main.py")
node_reading = load_python_module("node_reading", ROOT / "nodes" / "common" / "reading.py")

NAME, SEED, SENSOR = "s7", 5, "temperature"
BASE = {"NAME": NAME, "SEED": str(SEED), "READINGS": "3", "INTERVAL_MS": "400",
        "MAX_AGE": "30", "ETAG": "1", "FORMAT": "text"}
PATH = f"/sensors/{SENSOR}"


@pytest.fixture(scope="module")
def binary() -> Path:
    return build("coap-sensor")


def test_with_node_mdns_the_server_is_found_by_zeroconf_and_answers_there() -> None:
    """NODE_MDNS=1 (lib/mdns): python-zeroconf on tun0 resolves the node's _coap._udp
    instance, and libcoap's coap-client GETs a reading at the address and port it gave."""
    with NativeNode(build("coap-sensor", NODE_MDNS="1"), {**BASE, "OBSERVE": "null"}) as node:
        with ZeroconfPeer(node.netns, "browse", "_coap._udp") as browser:
            resolved = browser.wait_for(f"{NAME}._coap._udp.local.")
        (service,) = resolved
        assert service["name"] == f"{NAME}._coap._udp.local."
        assert service["server"] == f"{NAME}.local." and service["port"] == 5683
        assert str(node.address) in service["addresses"]
        (answer,) = received(coap_client(node, "-m", "get",
                                         f"coap://[{node.address}]:{service['port']}{PATH}"))
        assert answer.code == "2.05"


def url(node: NativeNode, path: str = PATH) -> str:
    return f"coap://[{node.address}]{path}"


def value(seq: int, sensor: str = SENSOR) -> float:
    return node_reading.reading_value(NAME, sensor, seq, SEED)


def check_options(message: CoapMessage, content_format: str) -> None:
    """ETag = the first 4 bytes of SHA-256 of the payload (main.py etag), the Content-Format,
    the configured Max-Age."""
    assert message.code == "2.05", message
    assert bytes.fromhex(message.option("ETag")[2:]) == hashlib.sha256(message.payload).digest()[:4]
    assert message.option("Content-Format") == content_format
    assert message.option("Max-Age") == BASE["MAX_AGE"]


def text_seq_t(payload: bytes) -> tuple[int, float]:
    fields = dict(part.split("=") for part in payload.decode().split(" "))
    return int(fields["seq"]), float(fields["t"])


@pytest.mark.slow
def test_well_known_core_is_the_python_apps(binary):
    config = {**BASE, "SENSORS": "temperature,humidity", "OBSERVE": "non",
              "FORMAT": "senml-cbor", "ETAG": "0", "MAX_AGE": "60"}
    python = coap_main.SensorServer({"name": NAME, "sensors": ["temperature", "humidity"],
                                     "observe": "non", "format": "senml-cbor"}, None)
    with NativeNode(binary, config) as node:
        (answer,) = received(coap_client(node, "-m", "get", url(node, "/.well-known/core")))
        assert answer.code == "2.05" and answer.mtype == "ACK"
        assert answer.option("Content-Format") == "application/link-format"
        assert answer.payload == python.link_format()
        (refused,) = received(coap_client(node, "-m", "get", "-A", "0",
                                          url(node, "/.well-known/core")))
        assert refused.code == "4.06"
        (humidity,) = received(coap_client(node, "-m", "get", url(node, "/sensors/humidity")))
        assert humidity.code == "2.05"  # the registration-free GET: the state, seq 0
        # no ETag without "etag", no Max-Age at RFC 7252's default 60 (main.py does the same)
        assert humidity.option("ETag") is None and humidity.option("Max-Age") is None
        assert cbor2.loads(humidity.payload)[0][0] == "humidity"
        (missing,) = received(coap_client(node, "-m", "get", url(node, "/sensors/pressure")))
        assert missing.code == "4.04"


@pytest.mark.slow
def test_get_mode_every_get_answered_is_a_reading(binary):
    """GET mode (observe null): readings 1, 2, 3 are three GETs answered, in SenML JSON and, asked with Accept 112, SenML CBOR; refused requests are no readings; an Observe option is
    ignored (the resource is not observable); no "done" (main.py check_done)."""
    with NativeNode(binary, {**BASE, "OBSERVE": "", "FORMAT": "senml-json"}) as node:
        answers = []
        answers += received(coap_client(node, "-m", "get", url(node)))
        answers += received(coap_client(node, "-m", "get", "-s", "1", url(node)))
        assert received(coap_client(node, "-m", "get", "-A", "50", url(node)))[0].code == "4.06"
        answers += received(coap_client(node, "-m", "get", "-A", "112", url(node)))
        readings = node.wait_event("reading", 3)
        assert [r["seq"] for r in readings] == [1, 2, 3]
        assert len(node.events("reading")) == 3 and node.events("done") == []
        for answer, reading in zip(answers, readings, strict=True):
            assert answer.mtype == "ACK" and answer.option("Observe") is None
            assert reading == {"event": "reading", "seq": reading["seq"], "sensor": SENSOR,
                               "value": value(reading["seq"]), "t": reading["t"]}
            assert abs(reading["t"] - time.time()) < 30
        for answer, reading in zip(answers[:2], readings[:2]):
            check_options(answer, "application/senml+json")
            assert answer.payload == node_reading.senml_json(NAME, reading["seq"], reading["t"],
                                                             [(SENSOR, reading["value"])])
        check_options(answers[2], "application/senml+cbor")
        assert answers[2].payload == node_reading.senml_cbor(NAME, 3, readings[2]["t"],
                                                            [(SENSOR, value(3))])


# RFC 7252 §3: CON GET, token 0x5a, Message ID from argv, Uri-Path "sensors" (option 11,
# length 7: 0xb7) and "temperature" (delta 0, length 11: 0x0b): 4 + 1 + 8 + 12 = 25 bytes
SEND_TWICE = """
import socket, sys
get = bytes([0x41, 0x01]) + int(sys.argv[2]).to_bytes(2, "big") + bytes([0x5a])
get += bytes([0xb7]) + b"sensors" + bytes([0x0b]) + b"temperature"
assert len(get) == 25
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
for _ in range(2):
    s.sendto(get, (sys.argv[1], 5683))
    print(s.recv(1500).hex())
"""


@pytest.mark.slow
@pytest.mark.parametrize("observe", ["", "con"])
def test_a_duplicate_request_gets_the_same_answer_and_is_no_new_reading(binary, observe):
    """RFC 7252 §4.5 (main.py's `recent`): the same CON sent twice (same endpoint and
    Message ID, as after a lost ACK) is answered twice with the same datagram; in GET mode it
    is one reading, not two; a new Message ID is the next reading."""
    with NativeNode(binary, {**BASE, "OBSERVE": observe}) as node:
        first = node.run([sys.executable, "-c", SEND_TWICE, str(node.address), "4660"])
        assert first.returncode == 0, first.stderr
        answers = first.stdout.decode().split()
        assert len(answers) == 2 and answers[0] == answers[1]
        assert bytes.fromhex(answers[0])[:4] == bytes([0x61, 0x45, 0x12, 0x34])  # ACK 2.05 mid
        second = node.run([sys.executable, "-c", SEND_TWICE, str(node.address), "4661"])
        assert second.returncode == 0, second.stderr
        payloads = [bytes.fromhex(a).rsplit(b"\xff", 1)[1] for a in second.stdout.decode().split()]
        expected_seqs = [1, 2] if observe == "" else [0, 0]
        seqs = [text_seq_t(bytes.fromhex(answers[0]).rsplit(b"\xff", 1)[1])[0],
                text_seq_t(payloads[0])[0]]
        assert seqs == expected_seqs and payloads[0] == payloads[1]
        assert len(node.events("reading")) == (2 if observe == "" else 0)


# RFC 7641 §3.1 registration that never acknowledges: CON GET, Observe 0 (option 6, empty:
# 0x60), Uri-Path "sensors" (delta 5: 0x57) and "temperature" (0x0b); prints its port, then
# every datagram until the notification was sent 5 times (once + COAP_MAX_RETRANSMIT)


def observe_and_check(binary, mode: str, content_format: str) -> tuple[list[CoapMessage], NativeNode]:
    config = {**BASE, "OBSERVE": mode,
              "FORMAT": "senml-cbor" if content_format.endswith("cbor") else "text"}
    with NativeNode(binary, config) as node:
        time.sleep(1.0)  # 2.5 intervals without an observer: readings pause (main.py notify)
        assert node.events("reading") == []
        messages = coap_client(node, "-m", "get", "-s", "3", url(node))
        node.wait_event("done")
    return messages, node


def check_notifications(messages: list[CoapMessage], node: NativeNode, mtypes: list[str],
                        content_format: str) -> list[CoapMessage]:
    """The registration's answer is the state before any reading (seq 0, not a reading);
    then readings 1..3 as notifications of `mtypes`, payloads as the Python app makes them
    from the node's own reading events, Observe numbers increasing; then "done"."""
    answers = received(messages)
    registration, notifications = answers[0], answers[1:]
    assert registration.mtype == "ACK" and registration.option("Observe") is not None
    check_options(registration, content_format)
    readings = node.events("reading")
    assert [r["seq"] for r in readings] == [1, 2, 3]
    assert [r["value"] for r in readings] == [value(1), value(2), value(3)]
    assert len(notifications) == 3, answers
    observe_numbers = [int(n.option("Observe")) for n in notifications]
    assert observe_numbers == sorted(observe_numbers) > [int(registration.option("Observe"))]
    assert [n.mtype for n in notifications] == mtypes
    for notification, reading in zip(notifications, readings):
        assert notification.token == registration.token
        check_options(notification, content_format)
        t, seq = reading["t"], reading["seq"]
        if content_format == "text/plain":
            assert notification.payload == node_reading.text(NAME, seq, t, [(SENSOR, value(seq))])
        else:
            assert notification.payload == node_reading.senml_cbor(NAME, seq, t, [(SENSOR, value(seq))])
            assert cbor2.loads(notification.payload)[1] == {0: "seq", 2: seq}
    (observe,) = node.events("observe")
    assert observe["peer"] == "fd00::1" and observe["token"] == registration.token
    assert observe["handed_over"] == 0
    events = [e["event"] for e in node.events()]
    assert events == ["ready", "observe", "reading", "reading", "reading", "done"]
    return notifications


@pytest.mark.slow
def test_observe_con_notifications_in_senml_cbor(binary):
    messages, node = observe_and_check(binary, "con", "application/senml+cbor")
    registration = received(messages)[0]
    assert cbor2.loads(registration.payload)[1] == {0: "seq", 2: 0}
    notifications = check_notifications(messages, node, ["CON"] * 3, "application/senml+cbor")
    acks = [m for m in messages if m.direction == "sent" and m.mtype == "ACK"]
    assert [a.mid for a in acks] == [n.mid for n in notifications]  # libcoap took each CON


@pytest.mark.slow
def test_observe_non_notifications_in_text(binary):
    messages, node = observe_and_check(binary, "non", "text/plain")
    seq, t = text_seq_t(received(messages)[0].payload)
    assert seq == 0 and abs(t - time.time()) < 30
    # RFC 7641 §4.5.1: the first is a CON whose ACK gives the round-trip time pacing the rest
    notifications = check_notifications(messages, node, ["CON", "NON", "NON"], "text/plain")
    acks = [m for m in messages if m.direction == "sent" and m.mtype == "ACK"]
    assert [a.mid for a in acks] == [notifications[0].mid]


# registers for /sensors/temperature (text), never acknowledges, prints every datagram for 4 s
NEVER_ACK_FOR_4_S = """
import socket, sys, time
get = bytes([0x41, 0x01, 0x33, 0x33, 0x7e, 0x60, 0x57]) + b"sensors" + bytes([0x0b])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.sendto(get + b"temperature", (sys.argv[1], 5683))
end = time.monotonic() + 4.0
while (left := end - time.monotonic()) > 0:
    s.settimeout(left)
    try:
        data = s.recv(1500)
    except TimeoutError:
        break
    print("%.3f %s" % (time.monotonic(), data.hex()), flush=True)
"""


@pytest.mark.slow
def test_observe_non_without_a_round_trip_time_sends_one_per_3_s(binary):
    """RFC 7641 §4.5.1 as main.py keeps it: the first notification is a CON; while it is
    unanswered there is no round-trip estimate, so NON notifications leave at most every 3 s,
    each the latest reading; the readings in between are "dropped" events."""
    config = {**BASE, "OBSERVE": "non", "READINGS": "100", "INTERVAL_MS": "200",
              "FORMAT": "text"}
    with NativeNode(binary, config) as node:
        out = node.run([sys.executable, "-c", NEVER_ACK_FOR_4_S, str(node.address)],
                       timeout_s=20)
        dropped = [e["seq"] for e in node.events("dropped")]
    assert out.returncode == 0, out.stderr
    got = [(float(t), bytes.fromhex(d)) for t, d in (line.split() for line in
                                                      out.stdout.decode().splitlines())]
    notes = [(t, d) for t, d in got if d[1] == 0x45]  # 2.05: the answer, then notifications
    kinds = [d[0] >> 4 & 3 for _, d in notes]  # 0 CON, 1 NON, 2 ACK
    assert kinds[:2] == [2, 0], kinds  # the registration's answer, the CON (reading 1)
    cons = [t for (t, d), kind in zip(notes, kinds) if kind == 0]
    nons = [(t, d) for (t, d), kind in zip(notes, kinds) if kind == 1]
    assert len(nons) == 1, kinds
    (t_non, non), = nons
    assert t_non - cons[0] == pytest.approx(3.0, abs=0.3)
    latest = int(non[non.index(b"\xff") + 1:].split()[0].split(b"=")[1])
    assert latest >= 12
    assert [d for d in dropped if d < latest] == list(range(2, latest))


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "observe"), [("get", ""), ("observe-con", "con"),
                                                ("observe-non", "non")])
def test_the_project_coap_sink_gets_every_reading(binary, tmp_path, mode, observe):
    """The sink the scenario runs (aiocoap) against the C node: every reading 1..3 arrives
    once, with the value and node time the node's events say."""
    with NativeNode(binary, {**BASE, "OBSERVE": observe, "FORMAT": "senml-cbor"}) as node:
        with CoapSink(netns=node.netns, nodes={NAME: node.address}, mode=mode, sensor=SENSOR,
                      readings=3, interval_s=0.4, deliveries=tmp_path / "deliveries.jsonl",
                      log=tmp_path / "sink.log", grace_s=5.0) as sink:
            sink.wait(timeout=40)
        events = {e["seq"]: e for e in node.events("reading")}
    deliveries = read_deliveries(tmp_path / "deliveries.jsonl")
    assert sorted(d.seq for d in deliveries) == [1, 2, 3], (tmp_path / "sink.log").read_text()
    for delivery in deliveries:
        assert delivery.node == NAME
        assert delivery.value == value(delivery.seq)
        assert delivery.t_node == events[delivery.seq]["t"]


@pytest.mark.slow
@pytest.mark.parametrize(("key", "bad", "message"), [
    ("FORMAT", "xml", "TESTBED_FORMAT: expected senml-json, senml-cbor or text "
                      "(the C coap-sensor writes no XEP-0323 XML)"),
    ("OBSERVE", "sometimes", "TESTBED_OBSERVE: expected con, non or null"),
    ("PORT", "5684", "TESTBED_PORT: this build serves only the CoAP default port 5683"),
    ("READINGS", "many", "TESTBED_READINGS: expected an integer in 0..1000000, got 'many'"),
])
def test_bad_configuration_is_one_error_and_exit_status_2(binary, key, bad, message):
    node = NativeNode(binary, {**BASE, key: bad})
    try:
        node.start()
        assert node.exit_status() == 2
        node.reader.join(timeout=5)
        errors = node.events("error")
        assert [e["what"] for e in errors] == [message]
        assert node.events("ready") == []
    finally:
        node.stop()


def arm_size(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


@pytest.mark.slow
def test_builds_for_cc2538dk_and_fits_the_board(record_property):
    """cc2538dk (arm-none-eabi-gcc): it compiles, links and fits 512 KB flash / 32 KB RAM.
    The image is the one a comparison's memory section builds (cached by then)."""
    elf = build_firmware("coap-sensor", Target.CC2538DK).elf
    size = arm_size(elf)
    rom, ram = size["text"] + size["data"], size["data"] + size["bss"]
    record_property("rom_bytes", rom)
    record_property("ram_bytes", ram)
    assert 0 < rom <= 512 * 1024 and 0 < ram <= 32 * 1024


@pytest.mark.slow
def test_builds_for_the_medium_platform():
    platform = APPS / "platform"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--", "nodes/contiki/platform/medium"],
                             capture_output=True, text=True).stdout
    if not tracked.strip():
        pytest.skip("nodes/contiki/platform/medium is not in git yet")
    elf = build("coap-sensor", "medium", TARGETDIRS=str(platform))
    assert elf.exists()


# Runs last of tests/contiki (conftest.py): its observer has waited since they began.
@pytest.mark.slow
def test_an_observer_that_never_acknowledges_is_dropped_with_an_error(unacknowledged_observer):
    """RFC 7641 §4.5 with the engine's numbers: the CON notification is sent once and
    retransmitted COAP_MAX_RETRANSMIT (4) times with the same Message ID, then the observer
    is dropped and the node says so as main.py does."""
    node, waiter, outcome = unacknowledged_observer
    try:
        waiter.join(timeout=210)
        if "error" in outcome:
            raise outcome["error"]
        client = outcome["client"]
        assert client.returncode == 0, client.stderr
        port, *datagrams = client.stdout.decode().split()
        notifications = [b for b in map(bytes.fromhex, datagrams) if b[0] >> 4 & 3 == 0]  # CON
        assert len(notifications) == 5 and len({n[2:4] for n in notifications}) == 1
        (error,) = node.wait_event("error", timeout_s=100)
        assert error["what"] == f"observer [fd00::1]:{port} gave up after 4 retransmissions"
        assert [r["seq"] for r in node.events("reading")] == [1]
    finally:
        node.stop()
