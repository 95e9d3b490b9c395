"""main.py, the coap-sensor firmware, run as a process on the loopback and spoken to in raw CoAP.

Covers RFC 7252 behaviour a client can see: piggybacked ACKs, NON answers, message-ID
deduplication (§4.5), 4.04/4.05/4.02/4.06, ping and reject (RST), Observe (RFC 7641)
registration, notifications, deregistration, RST cancel, and CON retransmission timing with
the observer dropped after MAX_RETRANSMIT. coap-client and aiocoap talk to it in
tests/services/test_coap_sink.py.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import cbor2
import pytest

APP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(APP))
import coap  # noqa: E402

spec = importlib.util.spec_from_file_location("coap_sensor_main", APP / "main.py")
firmware = importlib.util.module_from_spec(spec)
spec.loader.exec_module(firmware)


def free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


class Node:
    """The firmware as a process; `events()` are its JSON lines so far."""

    def __init__(self, tmp_path: Path, **config):
        self.port = free_port()
        config = {"name": "s1", "readings": 5, "interval_s": 0.5, "sensors": ["temperature"],
                  "seed": 1, "port": self.port, "format": "text", "observe": None,
                  "max_age": 60, **config}
        path = tmp_path / f"node-{self.port}.json"
        path.write_text(json.dumps(config))
        self.out = tmp_path / f"node-{self.port}.out"
        with open(self.out, "wb") as out:
            self.process = subprocess.Popen([sys.executable, str(APP / "main.py"), str(path)],
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.events():
            assert self.process.poll() is None, self.out.read_text()
            assert time.monotonic() < deadline, "no ready event"
            time.sleep(0.02)
        assert self.events()[0]["event"] == "ready"

    def events(self, kind: str | None = None) -> list[dict]:
        lines = [json.loads(line) for line in self.out.read_text().splitlines()
                 if line.startswith("{")]
        return [e for e in lines if kind is None or e["event"] == kind]

    def stop(self):
        self.process.kill()
        self.process.wait()


@pytest.fixture
def node(tmp_path):
    started = []

    def start(**config) -> Node:
        started.append(Node(tmp_path, **config))
        return started[-1]

    yield start
    for n in started:
        n.stop()


class Client:
    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.bind(("::1", 0))
        self.server = ("::1", port)

    def send(self, message: coap.Message) -> bytes:
        data = coap.encode(message)
        self.sock.sendto(data, self.server)
        return data

    def receive_raw(self, timeout: float = 3.0) -> bytes:
        self.sock.settimeout(timeout)
        return self.sock.recvfrom(2048)[0]

    def receive(self, timeout: float = 3.0) -> coap.Message:
        return coap.decode(self.receive_raw(timeout))

    def silent_for(self, seconds: float) -> bool:
        try:
            self.receive_raw(seconds)
        except TimeoutError:
            return True
        return False

    def close(self):
        self.sock.close()


@pytest.fixture
def client():
    made = []

    def connect(port: int) -> Client:
        made.append(Client(port))
        return made[-1]

    yield connect
    for c in made:
        c.close()


def get(path: str, *, mid=0x100, token=b"\x01", mtype=coap.CON, extra=()) -> coap.Message:
    options = [(coap.URI_PATH, segment.encode()) for segment in path.strip("/").split("/")]
    return coap.Message(mtype, coap.GET, mid, token, options + list(extra))


def test_well_known_core_lists_the_sensors_in_link_format(node, client):
    n = node(sensors=["temperature", "humidity"], observe="con")
    c = client(n.port)
    c.send(get("/.well-known/core"))
    response = c.receive()
    assert (response.mtype, response.code, response.mid) == (coap.ACK, coap.CONTENT, 0x100)
    assert coap.decode_uint(response.option(coap.CONTENT_FORMAT)) == coap.LINK_FORMAT
    assert response.payload == (b'</sensors/temperature>;rt="temperature";ct=0;obs,'
                                b'</sensors/humidity>;rt="humidity";ct=0;obs')
    assert n.events("reading") == []


def test_con_get_gets_a_piggybacked_reading_with_etag_and_max_age(node, client):
    n = node(max_age=30, etag=True)
    c = client(n.port)
    request = c.send(get("/sensors/temperature", mid=0x4242, token=b"\xab"))
    raw = c.receive_raw()
    response = coap.decode(raw)
    assert (response.mtype, response.code, response.mid, response.token) == (
        coap.ACK, coap.CONTENT, 0x4242, b"\xab")
    assert len(response.option(coap.ETAG)) == 4
    assert coap.decode_uint(response.option(coap.MAX_AGE)) == 30
    assert coap.decode_uint(response.option(coap.CONTENT_FORMAT)) == coap.TEXT_PLAIN
    fields = dict(part.split("=") for part in response.payload.decode().split())
    [reading] = n.events("reading")
    assert int(fields["seq"]) == reading["seq"] == 1
    assert float(fields["v"]) == reading["value"] == firmware.reading.reading_value("s1", "temperature",
                                                                           1, 1)
    assert abs(float(fields["t"]) - reading["t"]) < 0.001
    # sizes: GET 4 + 1 + (1+7) + (1+11); 2.05: 4 + 1 + ETag 5 + CF 1 + Max-Age 2 + 1 + payload
    assert len(request) == 25
    assert len(raw) == 4 + 1 + 5 + 1 + 2 + 1 + len(response.payload) == 43


def test_without_etag_and_at_the_default_max_age_neither_option_is_sent(node, client):
    """RFC 7252 §5.10.5: Max-Age 60 is what a client assumes; no variant validates an ETag:
    the 2.05 carries Content-Format alone, 7 bytes shorter than with both."""
    n = node()
    c = client(n.port)
    c.send(get("/sensors/temperature", mid=0x4243, token=b"\xab"))
    raw = c.receive_raw()
    response = coap.decode(raw)
    assert [number for number, _ in response.options] == [coap.CONTENT_FORMAT]
    assert len(raw) == 4 + 1 + 1 + 1 + len(response.payload)


def test_a_duplicate_con_get_gets_the_cached_response_and_no_new_reading(node, client):
    """RFC 7252 §4.5: same message ID from the same endpoint -> same response again."""
    n = node()
    c = client(n.port)
    c.send(get("/sensors/temperature", mid=7))
    first = c.receive_raw()
    time.sleep(0.1)
    c.send(get("/sensors/temperature", mid=7))
    assert c.receive_raw() == first
    c.send(get("/sensors/temperature", mid=8))
    assert coap.decode(c.receive_raw()).payload.startswith(b"seq=2 ")
    assert [e["seq"] for e in n.events("reading")] == [1, 2]


def test_a_non_get_gets_a_non_response_with_its_own_message_id(node, client):
    n = node()
    c = client(n.port)
    c.send(get("/sensors/temperature", mid=9, token=b"tok", mtype=coap.NON))
    response = c.receive()
    assert (response.mtype, response.code, response.token) == (coap.NON, coap.CONTENT, b"tok")
    assert response.mid != 9


@pytest.mark.parametrize("request_, code", [
    (get("/sensors/pressure"), coap.NOT_FOUND),
    (get("/nothing/here"), coap.NOT_FOUND),
    (coap.Message(coap.CON, coap.POST, 1, b"", [(coap.URI_PATH, b"sensors"),
                                                (coap.URI_PATH, b"temperature")]),
     coap.METHOD_NOT_ALLOWED),
    (coap.Message(coap.CON, coap.PUT, 1, b"", [(coap.URI_PATH, b".well-known"),
                                               (coap.URI_PATH, b"core")]),
     coap.METHOD_NOT_ALLOWED),
    (get("/sensors/temperature", extra=[(65001, b"x")]), coap.BAD_OPTION),
    (coap.Message(coap.CON, coap.GET, 1, b"", [(coap.URI_PATH, b"\xff")]), coap.BAD_REQUEST),
    (get("/sensors/temperature", extra=[(coap.ACCEPT, coap.encode_uint(50))]),
     coap.NOT_ACCEPTABLE),
    # RFC 7252 §5.10.2: a server that is no proxy answers Proxy-Uri with 5.05
    (get("/sensors/temperature", extra=[(coap.PROXY_URI, b"coap://[fd00::9]/x")]),
     coap.PROXYING_NOT_SUPPORTED),
])
def test_errors(node, client, request_, code):
    n = node()
    c = client(n.port)
    c.send(request_)
    response = c.receive()
    assert (response.mtype, coap.code_text(response.code)) == (coap.ACK, coap.code_text(code))
    assert n.events("reading") == []
    c.send(get("/sensors/temperature", mid=0x300))  # and the node still serves
    assert c.receive().code == coap.CONTENT


def test_accept_senml_cbor_gets_senml(node, client):
    n = node()
    c = client(n.port)
    c.send(get("/sensors/temperature", extra=[(coap.ACCEPT, coap.encode_uint(112))]))
    response = c.receive()
    assert coap.decode_uint(response.option(coap.CONTENT_FORMAT)) == coap.SENML_CBOR
    base, seq = cbor2.loads(response.payload)
    [reading] = n.events("reading")
    assert base == {-2: "s1/", -3: reading["t"], 0: "temperature", 1: "Cel", 2: reading["value"]}
    assert seq == {0: "seq", 2: 1}


def test_ping_and_malformed_con_get_a_reset(node, client):
    n = node()
    c = client(n.port)
    c.send(coap.Message(coap.CON, coap.EMPTY, 0x1111))
    assert coap.decode(c.receive_raw()) == coap.Message(coap.RST, coap.EMPTY, 0x1111)
    c.sock.sendto(b"\x40\x01\x22\x22\xf0", c.server)  # reserved option nibble 15
    assert coap.decode(c.receive_raw()) == coap.Message(coap.RST, coap.EMPTY, 0x2222)
    c.sock.sendto(b"\x50\x01\x33\x33\xf0", c.server)  # the same as NON: silently ignored
    assert c.silent_for(0.3)


def observe_register(c: Client, token=b"\x0b", **kw):
    c.send(get("/sensors/temperature", token=token, extra=[(coap.OBSERVE, b"")], **kw))
    return c.receive()


def seq_of(message: coap.Message) -> int:
    return int(message.payload.split()[0].split(b"=")[1])


def test_observe_non_notifies_every_interval_until_done(node, client):
    n = node(observe="non", readings=4, interval_s=0.3)
    c = client(n.port)
    first = observe_register(c)
    # the registration answers with the current state (seq 0): not a reading, since a
    # piggybacked response is never retransmitted by the server
    assert first.mtype == coap.ACK and coap.decode_uint(first.option(coap.OBSERVE)) == 0
    assert seq_of(first) == 0
    notes = [c.receive()]
    # RFC 7641 §4.5.1: the first goes confirmable, its ACK gives the round-trip time that
    # paces the NON ones after it
    assert notes[0].mtype == coap.CON
    c.send(coap.Message(coap.ACK, coap.EMPTY, notes[0].mid))
    notes += [c.receive() for _ in range(3)]
    assert [m.mtype for m in notes[1:]] == [coap.NON] * 3
    assert [coap.decode_uint(m.option(coap.OBSERVE)) for m in notes] == [1, 2, 3, 4]
    assert [seq_of(m) for m in notes] == [1, 2, 3, 4]
    assert all(m.token == b"\x0b" for m in notes)
    assert c.silent_for(0.8)  # `readings` reached
    assert [e["seq"] for e in n.events("reading")] == [1, 2, 3, 4]
    assert len(n.events("done")) == 1 and not n.events("dropped")


def test_observe_non_probes_the_round_trip_again_every_refresh(node, client):
    """Every NON_REFRESH-th notification after a CON is a CON again (a new RTT sample, and
    RFC 7641 §4.5's check that the client still wants them)."""
    refresh = firmware.NON_REFRESH
    n = node(observe="non", readings=2 * refresh + 3, interval_s=0.03)
    c = client(n.port)
    observe_register(c)
    kinds = []
    for _ in range(2 * refresh + 3):
        note = c.receive()
        kinds.append(note.mtype)
        if note.mtype == coap.CON:
            c.send(coap.Message(coap.ACK, coap.EMPTY, note.mid))
    cons = [i for i, kind in enumerate(kinds) if kind == coap.CON]
    assert cons == [0, refresh + 1, 2 * refresh + 2]
    assert not n.events("dropped")


def test_observe_non_without_a_round_trip_time_sends_one_per_3_s(node, client):
    """RFC 7641 §4.5.1: while the first CON is unanswered there is no RTT estimate, so NON
    notifications come at most every 3 s, each the latest reading; the ones in between are
    "dropped" events, not sent."""
    n = node(observe="non", readings=100, interval_s=0.2, ack_timeout_s=20)
    c = client(n.port)
    observe_register(c)
    probe = c.receive()
    sent = time.monotonic()
    assert probe.mtype == coap.CON and seq_of(probe) == 1  # never acknowledged
    assert c.silent_for(firmware.NON_GAP_WITHOUT_RTT - 0.3)
    note = c.receive(timeout=1.0)
    assert note.mtype == coap.NON
    assert time.monotonic() - sent == pytest.approx(firmware.NON_GAP_WITHOUT_RTT, abs=0.25)
    latest = seq_of(note)  # 3 s of readings every 0.2 s later
    assert latest >= 12 and latest in [e["seq"] for e in n.events("reading")]
    dropped = [e["seq"] for e in n.events("dropped")]
    assert [d for d in dropped if d < latest] == list(range(2, latest))  # none in between sent


def test_observe_deregistration_and_reset_stop_notifications(node, client):
    n = node(observe="con", readings=100, interval_s=0.2)
    a, b = client(n.port), client(n.port)
    observe_register(a, token=b"a")
    observe_register(b, token=b"b")
    note = a.receive()
    assert note.mtype == coap.CON
    a.send(coap.Message(coap.ACK, coap.EMPTY, note.mid))
    note = b.receive()
    b.send(coap.Message(coap.RST, coap.EMPTY, note.mid))  # RFC 7641 §3.6: RST cancels
    assert b.silent_for(0.6)
    # RFC 7641 §3.6: GET with Observe 1 deregisters (the answer has no Observe option)
    a.send(get("/sensors/temperature", mid=0x200, token=b"a", extra=[(coap.OBSERVE, b"\x01")]))
    while (answer := a.receive()).mid != 0x200:
        a.send(coap.Message(coap.ACK, coap.EMPTY, answer.mid))
    assert answer.code == coap.CONTENT and answer.option(coap.OBSERVE) is None
    time.sleep(0.3)
    while not a.silent_for(0.1):  # a notification sent before the deregistration arrived
        pass
    assert a.silent_for(0.6)


def test_unacknowledged_con_notification_backs_off_and_drops_the_observer(node, client):
    """RFC 7252 §4.2: first timeout in [ACK_TIMEOUT, ACK_TIMEOUT * 1.5], doubling on each of
    MAX_RETRANSMIT (4) retransmissions; then RFC 7641 §4.5: the observer is removed."""
    ack_timeout = 0.15
    n = node(observe="con", readings=100, interval_s=0.5, ack_timeout_s=ack_timeout, seed=4)
    c = client(n.port)
    observe_register(c)
    arrivals, datagrams = [], []
    while len(datagrams) < 5:
        datagrams.append(c.receive_raw(timeout=10))
        arrivals.append(time.monotonic())
    assert len(set(datagrams)) == 1  # one notification, retransmitted unchanged
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    first = gaps[0]
    assert ack_timeout - 0.02 <= first <= ack_timeout * firmware.ACK_RANDOM_FACTOR + 0.05, gaps
    for k, gap in enumerate(gaps):
        assert gap == pytest.approx(first * 2**k, abs=0.05), gaps
    # the last wait (16 x the first timeout) ends with the observer dropped: nothing more comes
    assert c.silent_for(first * 16 + 1.5)
    [error] = n.events("error")
    assert "gave up after 4 retransmissions" in error["what"]


def test_a_duplicate_non_request_is_ignored(node, client):
    """RFC 7252 §4.5: a NON repeated with the same message ID is not answered again."""
    n = node()
    c = client(n.port)
    request = get("/sensors/temperature", mid=0x444, mtype=coap.NON)
    c.send(request)
    first = c.receive()
    assert first.mtype == coap.NON and first.code == coap.CONTENT
    c.send(request)
    assert c.silent_for(0.5)
    assert [e["seq"] for e in n.events("reading")] == [1]


def register_answer(c: Client, token: bytes, mid: int) -> coap.Message:
    """Register; the piggybacked answer (notifications that come first are left unanswered)."""
    c.send(get("/sensors/temperature", mid=mid, token=token, extra=[(coap.OBSERVE, b"")]))
    while (answer := c.receive()).mid != mid or answer.mtype != coap.ACK:
        pass
    return answer


def test_a_re_registration_takes_over_the_unacknowledged_notifications(node, client):
    """The sink re-registers (new token) while notification 1 is still being retransmitted:
    the new entry replaces the old one and gets 1 again first, under the new token."""
    n = node(observe="con", readings=3, interval_s=0.2, ack_timeout_s=5.0)
    c = client(n.port)
    observe_register(c, token=b"old")
    first = c.receive()  # notification 1, left unacknowledged (its ACK "lost")
    assert seq_of(first) == 1 and first.token == b"old"
    time.sleep(0.5)  # 2 and 3 queue behind it (NSTART 1)
    answer = register_answer(c, b"new", 0x300)
    assert coap.decode_uint(answer.option(coap.OBSERVE)) == 0  # below the first handed over
    seqs = []
    while len(seqs) < 3:
        note = c.receive()
        assert note.token == b"new" and note.mtype == coap.CON
        seqs.append(seq_of(note))
        c.send(coap.Message(coap.ACK, coap.EMPTY, note.mid))
    assert seqs == [1, 2, 3] and note.mid != first.mid
    assert c.silent_for(0.5)  # the old entry is gone: nothing more under either token
    observes = n.events("observe")
    assert [e["handed_over"] for e in observes] == [0, 3] and [e["token"] for e in observes] == [
        b"old".hex(), b"new".hex()]


def test_readings_a_dropped_observer_owed_go_to_its_next_registration(node, client):
    """CON given up after MAX_RETRANSMIT: the observer is dropped, readings pause, and the
    endpoint's next registration gets the notification it never acknowledged."""
    n = node(observe="con", readings=40, interval_s=0.2, ack_timeout_s=0.05, seed=4)
    c = client(n.port)
    observe_register(c, token=b"a")
    deadline = time.monotonic() + 10
    while not n.events("error"):
        assert time.monotonic() < deadline, n.events()
        time.sleep(0.05)
    while not c.silent_for(0.3):  # drain the retransmissions
        pass
    produced = len(n.events("reading"))
    time.sleep(0.6)  # nobody observes: no readings are made to be thrown away
    assert len(n.events("reading")) == produced < 40
    answer = register_answer(c, b"b", 0x301)
    assert coap.decode_uint(answer.option(coap.OBSERVE)) == 0
    seqs = []
    while len(seqs) < produced + 2:  # what it owed, then new readings again
        note = c.receive()
        assert note.token == b"b"
        seqs.append(seq_of(note))
        c.send(coap.Message(coap.ACK, coap.EMPTY, note.mid))
    assert seqs == list(range(1, produced + 3))


def test_notifications_answered_with_a_reset_go_to_the_next_registration(node, client):
    """RFC 7641 §3.6: a RST cancels the observation; the reading it refused and those queued
    behind it were never taken in, so the endpoint's next registration gets them."""
    n = node(observe="con", readings=3, interval_s=0.2, ack_timeout_s=5.0)
    c = client(n.port)
    observe_register(c, token=b"a")
    first = c.receive()
    time.sleep(0.5)  # 2 and 3 queue behind 1
    c.send(coap.Message(coap.RST, coap.EMPTY, first.mid))
    assert c.silent_for(0.5)  # cancelled: nothing more under token a
    register_answer(c, b"b", 0x302)
    seqs = []
    while len(seqs) < 3:
        note = c.receive()
        assert note.token == b"b"
        seqs.append(seq_of(note))
        c.send(coap.Message(coap.ACK, coap.EMPTY, note.mid))
    assert seqs == [1, 2, 3]
