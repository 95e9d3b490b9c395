"""The mDNS engine on a given clock, for what the packet-level tests cannot set up cheaply:
a service published after start is probed and announced; §7.4 suppression needs the other
host's TTL to be no less than ours; a one-off question is asked again until answered; a
binary TXT value does not stop the node."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsmsg
import mdns
from dnsmsg import FLAG_AA, FLAG_QR, PTR, SRV, TXT, Message, Question, Record

ADDRESS = b"\xfe\x80" + bytes(13) + b"\x01"
PEER = ("fe80::2", 5353)


def run(engine: mdns.MDNS, until: float, start: float = 0.0, step: float = 0.005) -> list:
    """Poll from `start` to `until`; every (time, Message) the engine sent."""
    sent, t = [], start
    while t < until:
        engine.poll(t)
        sent += [(t, dnsmsg.decode(data)) for data, _ in engine.outgoing]
        engine.outgoing = []
        t = round(t + step, 6)
    return sent


def test_a_service_published_after_start_is_probed_then_announced() -> None:
    engine = mdns.MDNS("s1", [ADDRESS], seed=3)
    engine.start(0.0)
    run(engine, 4.0)
    engine.publish("s1@s1", "_presence._tcp", 5562, [("txtvers", "1")], now=4.0)
    sent = run(engine, 8.0, start=4.0)
    probes = [m for _, m in sent if not m.is_response and m.authority]
    announced = [m for _, m in sent if m.is_response and not m.questions]
    instance = ("s1@s1", "_presence", "_tcp", "local")
    assert len(probes) == 3 and all(q.name == instance for m in probes for q in m.questions)
    assert len(announced) >= 2
    assert all(any(r.rtype == SRV and r.name == instance for r in m.answers) for m in announced)


def test_duplicate_answer_suppression_needs_a_ttl_no_less_than_ours() -> None:
    """RFC 6762 §7.4: a copy with half our TTL does not stand for our answer; a full one does."""
    for their_ttl, suppressed in ((2300, False), (4500, True)):
        engine = mdns.MDNS("s1", [ADDRESS], seed=3)
        engine.publish("s1@s1", "_presence._tcp", 5562, [("txtvers", "1")])
        engine.start(0.0)
        run(engine, 5.0)
        ptr_name = ("_presence", "_tcp", "local")
        engine.receive(Message(0, 0, [Question(ptr_name, PTR)]).encode(), PEER, 5.0)
        other = Record(ptr_name, PTR, ("s1@s1",) + ptr_name, their_ttl)
        engine.receive(Message(0, FLAG_QR | FLAG_AA, answers=[other]).encode(), PEER, 5.001)
        sent = run(engine, 5.5, start=5.001)
        answered = any(r.rtype == PTR for _, m in sent for r in m.answers)
        assert answered is not suppressed, their_ttl


def test_a_one_off_question_is_asked_again_until_answered() -> None:
    """The instance's PTR came without its SRV: the SRV is asked after 20-120 ms, then 1, 2,
    4 ... s later, until it arrives (§5.2's intervals), and no more afterwards."""
    engine = mdns.MDNS("s1", [ADDRESS], seed=3, mechanisms={"probing": False})
    engine.start(0.0)
    engine.browse("_presence._tcp", 0.0)
    meter = ("meter@peer", "_presence", "_tcp", "local")
    ptr = Record(meter[1:], PTR, meter, 4500)
    engine.receive(Message(0, FLAG_QR | FLAG_AA, answers=[ptr]).encode(), PEER, 0.5)
    sent = run(engine, 5.0, start=0.5)
    asked = [t for t, m in sent for q in m.questions if q.name == meter and q.qtype == SRV]
    assert len(asked) >= 3 and 1.0 <= asked[1] - asked[0] < 1.1 and asked[2] - asked[1] >= 2.0
    srv = Record(meter, SRV, (0, 0, 5562, ("peer", "local")), 120, flush=True)
    engine.receive(Message(0, FLAG_QR | FLAG_AA, answers=[srv]).encode(), PEER, 5.0)
    later = run(engine, 20.0, start=5.0)
    assert not [t for t, m in later for q in m.questions if q.name == meter and q.qtype == SRV]


def test_a_binary_txt_value_is_escaped_not_fatal() -> None:
    engine = mdns.MDNS("s1", [ADDRESS], seed=3, mechanisms={"probing": False})
    engine.start(0.0)
    engine.browse("_presence._tcp", 0.0)
    meter = ("meter@peer", "_presence", "_tcp", "local")
    records = [Record(meter[1:], PTR, meter, 4500),
               Record(meter, SRV, (0, 0, 5562, ("peer", "local")), 120, flush=True),
               Record(meter, TXT, (b"txtvers=1", b"key=\xff\x00"), 4500, flush=True),
               Record(("peer", "local"), 28, ADDRESS, 120, flush=True)]
    engine.receive(Message(0, FLAG_QR | FLAG_AA, answers=records).encode(), PEER, 0.5)
    found = [e for e in engine.events if e.get("mdns") == "service"]
    assert found[-1]["txt"] == ["txtvers=1", "key=\\xff\\x00"]
