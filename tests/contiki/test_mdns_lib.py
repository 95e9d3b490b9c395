"""The C mDNS/DNS-SD engine (nodes/contiki/lib/mdns) against the Python one, on a virtual link.

nodes/contiki/lib/mdns/tests/mdns-driver.c links the library's codec and engine (the files
the firmware compiles) with the host gcc and runs one engine on the test's clock. The
oracles are independent of the C code: the Python sensor's dnsmsg.py and mdns.py (another
implementation, checked against avahi and python-zeroconf in nodes/xmpp-sensor/tests), and
scapy, which decodes every packet the C engine sends. The timing rules are read from the
packets' send times, with the RFC's numbers written here, not the engine's constants.
The firmware on Contiki's netstack is tested by tests/experiment/test_study_mdns.py.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS

from tests.contiki._native import load_python_module

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "nodes" / "contiki" / "lib" / "mdns"
PYTHON_SENSOR = ROOT / "nodes" / "xmpp-sensor"
BUILD = ROOT / "build" / "tests" / "contiki" / "mdns-driver"
SOURCES = ["tests/mdns-driver.c", "mdns.c", "mdns-msg.c"]
MECHANISMS = ("PROBING", "ANNOUNCING", "RESPONSE_DELAY", "KNOWN_ANSWER", "DUPLICATE_ANSWER",
              "RATE_LIMIT", "CACHE_REFRESH", "GOODBYE")
C_ADDRESS = bytes.fromhex("fe80000000000000000000fffe000002")
PY_ADDRESS = bytes.fromhex("fe80000000000000000000fffe000003")
PRESENCE = "_presence._tcp"
TXT = ("txtvers=1", "port.p2pj=5562")


dnsmsg = load_python_module("dnsmsg", PYTHON_SENSOR / "dnsmsg.py")
pymdns = load_python_module("mdns", PYTHON_SENSOR / "mdns.py")  # imports dnsmsg, prng by name


def h(data: bytes) -> str:
    return data.hex() or "-"


def build(name: str, defines: dict[str, str]) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    BUILD.mkdir(parents=True, exist_ok=True)
    binary = BUILD / name
    argv = ["gcc", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{LIB}",
            *(f"-D{k}={v}" for k, v in defines.items()),
            "-o", str(binary), *(str(LIB / s) for s in SOURCES)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return binary


@pytest.fixture(scope="module")
def binary() -> Path:
    return build("mdns-driver", {"MDNS_CONF_CACHE_ENTRIES": "64"})


@pytest.fixture(scope="module")
def binary_without_mechanisms() -> Path:
    return build("mdns-driver-none", {f"MDNS_CONF_{m}": "0" for m in MECHANISMS})


class CEngine:
    """One C engine in its driver process; what it sends is kept with the clock it was sent at."""

    def __init__(self, binary: Path) -> None:
        self.process = subprocess.Popen([str(binary)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.sent: list[tuple[float, bytes | None, int, bytes]] = []  # (s, dest, port, data)
        self.outgoing: list[tuple[bytes | None, int, bytes]] = []
        self.events: list[dict[str, Any]] = []
        self.heard: list[tuple[float, bytes]] = []  # what it was given

    def ask(self, line: str, now_s: float = 0.0) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = []
        while (got := self.process.stdout.readline().rstrip("\n")) != ".":
            assert got or self.process.poll() is None, f"driver died on {line[:80]!r}"
            if got.startswith("S "):
                _, dest, port, data = got.split(" ")
                packet = (None if dest == "-" else bytes.fromhex(dest), int(port),
                          bytes.fromhex(data))
                self.outgoing.append(packet)
                self.sent.append((now_s, *packet))
            elif got.startswith("E "):
                what, *fields = got[2:].split(" ")
                event: dict[str, Any] = {"what": what, "t": now_s}
                for f in fields:
                    k, v = f.split("=", 1)
                    event[k] = (int(v) if k in ("port", "offset") else
                                v if k == "address" else bytes.fromhex(v).decode())
                self.events.append(event)
            else:
                answer.append(got)
        return answer

    def setup(self, host: str, instance: str | None = None, browse: bool = True,
              seed: int = 7) -> None:
        self.ask(f"init {h(host.encode())} {seed} {C_ADDRESS.hex()}")
        if instance is not None:
            assert self.ask(f"publish {h(instance.encode())} {PRESENCE} 5562 "
                            + " ".join(h(t.encode()) for t in TXT)) == ["OK"]
        if browse:
            self.ask(f"browse {PRESENCE}")

    def at(self, command: str, now_s: float) -> None:
        self.ask(f"{command} {round(now_s * 1000)}", now_s)

    def receive(self, data: bytes, source: bytes, now_s: float, port: int = 5353) -> None:
        self.heard.append((now_s, data))
        self.ask(f"recv {round(now_s * 1000)} {port} {source.hex()} {h(data)}", now_s)

    def deadline(self) -> float | None:
        (line,) = self.ask("deadline")
        return None if line == "D none" else int(line.split()[1]) / 1000

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture()
def c_engine(binary: Path) -> Iterator[CEngine]:
    engine = CEngine(binary)
    yield engine
    engine.close()


def python_engine(host: str, instance: str | None, seed: int = 5) -> Any:
    engine = pymdns.MDNS(host, [PY_ADDRESS], seed=seed)
    if instance is not None:
        engine.publish(instance, PRESENCE, 5562, [tuple(t.split("=")) for t in TXT])
    engine.browse(PRESENCE, 0.0)
    return engine


def run_link(c: CEngine, py: Any, until_s: float, start_s: float = 0.0) -> None:
    """Both engines on one lossless link, each polled at its own deadlines, every packet
    delivered to the other at once; until `until_s` on the shared clock."""
    now = start_s
    while now <= until_s:
        c.at("poll", now)
        py.poll(now)
        while c.outgoing or py.outgoing:  # answers may answer answers
            for dest, _port, data in c.outgoing:
                if dest is None or dest == PY_ADDRESS:
                    py.receive(data, ("fe80::ff:fe00:2", 5353), now)
            c.outgoing = []
            for data, dest in py.outgoing:
                if dest is None or dest[0] == "fe80::ff:fe00:2":
                    c.receive(data, PY_ADDRESS, now)
            py.outgoing = []
        times = [t for t in (c.deadline(), py.deadline()) if t is not None]
        now = max(now + 0.001, min(times)) if times else until_s + 1


def decoded(c: CEngine) -> list[tuple[float, DNS]]:
    return [(t, DNS(data)) for t, _dest, _port, data in c.sent]


def names(entries: Any) -> list[str]:
    """The names of a scapy DNS section (questions or records)."""
    out = []
    for e in entries:
        name = e.qname if hasattr(e, "qname") else e.rrname
        out.append(name.decode() if isinstance(name, bytes) else str(name))
    return out


# --- the codec ---------------------------------------------------------------------------------

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_@ ", min_size=1, max_size=12)
NAME = st.lists(LABEL, min_size=1, max_size=4).map(lambda ls: (*ls, "local"))


@st.composite
def records(draw: Any) -> Any:
    kind = draw(st.sampled_from(["PTR", "SRV", "TXT", "AAAA"]))
    name = draw(NAME)
    ttl = draw(st.integers(0, 2**32 - 1))
    flush = draw(st.booleans())
    if kind == "PTR":
        return dnsmsg.Record(name, dnsmsg.PTR, draw(NAME), ttl, flush)
    if kind == "SRV":
        return dnsmsg.Record(name, dnsmsg.SRV, (0, 0, draw(st.integers(0, 65535)), draw(NAME)),
                             ttl, flush)
    if kind == "TXT":
        return dnsmsg.Record(name, dnsmsg.TXT, tuple(draw(st.lists(
            st.binary(min_size=0, max_size=20), min_size=1, max_size=3))), ttl, flush)
    return dnsmsg.Record(name, dnsmsg.AAAA, draw(st.binary(min_size=16, max_size=16)), ttl,
                         flush)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions=st.lists(st.tuples(NAME, st.sampled_from([12, 16, 28, 33, 255]),
                                    st.booleans()), max_size=3),
       answers=st.lists(records(), max_size=4), additional=st.lists(records(), max_size=3),
       msg_id=st.integers(0, 65535))
def test_c_reads_what_the_python_encoder_writes(c_engine: CEngine, questions: Any,
                                                answers: Any, additional: Any,
                                                msg_id: int) -> None:
    msg = dnsmsg.Message(msg_id, dnsmsg.FLAG_QR, answers=answers, additional=additional,
                         questions=[dnsmsg.Question(n, t, unicast=u) for n, t, u in questions])
    data = msg.encode()
    lines = c_engine.ask(f"decode {h(data)}")
    assert lines[0] == f"H {msg_id} {dnsmsg.FLAG_QR} {len(questions)} {len(answers)} 0 " \
                       f"{len(additional)}"
    wire = dnsmsg.decode(data)  # what each record is, from the Python decoder
    for line, q in zip(lines[1:], wire.questions, strict=False):
        _, name, qtype, unicast = line.split(" ")
        assert bytes.fromhex(name) == wire_name(q.name)
        assert (int(qtype), bool(int(unicast))) == (q.qtype, q.unicast)
    rows = [line.split(" ") for line in lines[1 + len(questions):]]
    assert len(rows) == len(answers) + len(additional)
    for row, r in zip(rows, wire.answers + wire.additional, strict=True):
        _, _section, name, rtype, rclass, flush, ttl, _rdata, target, port = row
        assert bytes.fromhex(name) == wire_name(r.name)
        assert (int(rtype), int(rclass), bool(int(flush)), int(ttl)) == \
            (r.rtype, r.rclass, r.flush, r.ttl)
        if r.rtype == dnsmsg.PTR:
            assert bytes.fromhex(target) == wire_name(r.rdata)
        if r.rtype == dnsmsg.SRV:
            assert (bytes.fromhex(target), int(port)) == (wire_name(r.rdata[3]), r.rdata[2])


def wire_name(labels: tuple[str, ...]) -> bytes:
    return b"".join(bytes([len(x.encode())]) + x.encode() for x in labels) + b"\0"


def test_every_truncation_is_refused_at_the_offset_the_python_decoder_names(
        c_engine: CEngine) -> None:
    msg = dnsmsg.Message(0, dnsmsg.FLAG_QR | dnsmsg.FLAG_AA, answers=[
        dnsmsg.Record(("_presence", "_tcp", "local"), dnsmsg.PTR,
                      ("s1@s1", "_presence", "_tcp", "local"), 4500),
        dnsmsg.Record(("s1@s1", "_presence", "_tcp", "local"), dnsmsg.SRV,
                      (0, 0, 5562, ("s1", "local")), 120, flush=True),
        dnsmsg.Record(("s1", "local"), dnsmsg.AAAA, PY_ADDRESS, 120, flush=True)])
    data = msg.encode()
    for cut in range(len(data)):
        with pytest.raises(dnsmsg.DNSError) as python:
            dnsmsg.decode(data[:cut])
        (last,) = c_engine.ask(f"decode {h(data[:cut])}")[-1:]
        assert last == f"ERR {python.value.offset}", f"cut at {cut}"
    # and a pointer that loops (to itself) is refused where it stands
    looped = bytes(12) + b"\x00\x01" + bytes(6) + b"\xc0\x0c"
    looped = looped[:4] + b"\x00\x01" + looped[6:12] + b"\xc0\x0c\x00\x01\x00\x01"
    with pytest.raises(dnsmsg.DNSError) as python:
        dnsmsg.decode(looped)
    assert c_engine.ask(f"decode {h(looped)}")[-1] == f"ERR {python.value.offset}"


# --- the engine beside the Python engine ------------------------------------------------------


def test_c_and_python_find_each_other_and_c_probes_and_announces_as_rfc_6762_says(
        c_engine: CEngine) -> None:
    c_engine.setup("c1", "c1@c1")
    c_engine.at("start", 0.0)
    py = python_engine("p1", "p1@p1")
    py.start(0.0)
    run_link(c_engine, py, 5.0)

    found_by_c = [e for e in c_engine.events if e["what"] == "service"]
    assert [e["name"] for e in found_by_c] == ["p1@p1"]
    assert found_by_c[0]["host"] == "p1.local" and found_by_c[0]["port"] == 5562
    assert found_by_c[0]["address"] == PY_ADDRESS.hex()
    found_by_py = [e for e in py.events if e.get("mdns") == "service"]
    assert [e["instance"] for e in found_by_py] == ["c1@c1"]
    assert found_by_py[0]["txt"] == list(TXT)

    packets = decoded(c_engine)
    probes = [(t, p) for t, p in packets if p.qr == 0 and p.nscount > 0]
    # §8.1: three probes 250 ms apart, the first after 0-250 ms, unicast answer asked first
    assert len(probes) == 3
    assert 0.0 <= probes[0][0] <= 0.250
    assert [round(b[0] - a[0], 3) for a, b in zip(probes, probes[1:])] == [0.25, 0.25]
    assert [iter_rr(p.qd)[0].unicastresponse for _, p in probes] == [1, 0, 0]
    assert sorted(names(iter_rr(probes[0][1].qd))) == ["c1.local.", "c1@c1._presence._tcp.local."]
    # §8.3: two announcements 1 s apart, 250 ms after the last probe, cache-flush on unique
    announced = [(t, p) for t, p in packets if p.qr == 1 and p.qdcount == 0
                 and p.ancount >= 5]
    assert len(announced) >= 2
    assert round(announced[0][0] - probes[-1][0], 3) == 0.25
    assert round(announced[1][0] - announced[0][0], 3) == 1.0
    unique = {(r.type, r.cacheflush) for r in iter_rr(announced[0][1].an)}
    assert unique == {(28, 1), (12, 0), (33, 1), (16, 1)}
    ttls = {r.type: r.ttl for r in iter_rr(announced[0][1].an)}
    assert (ttls[28], ttls[33], ttls[12], ttls[16]) == (120, 120, 4500, 4500)  # §10


def iter_rr(records: Any) -> list[Any]:
    """A scapy DNS section as a list (scapy 2.6+ gives one; older ones chain the records)."""
    if isinstance(records, list):
        return list(records)
    out = []
    while records is not None and records.name != "NoPayload":
        out.append(records)
        records = records.payload
    return out


def test_a_name_the_python_engine_holds_makes_c_rename_and_both_are_found(
        c_engine: CEngine) -> None:
    py = python_engine("s1", "s1@s1")
    py.start(0.0)
    run_link_py_only(py, 3.0)  # the Python node holds its names before C starts
    c_engine.setup("s1", "s1@s1")
    c_engine.at("start", 3.0)
    run_link(c_engine, py, 9.0, start_s=3.0)
    conflicts = [(e["name"], e["renamed"]) for e in c_engine.events if e["what"] == "conflict"]
    assert ("s1.local", "s1-2.local") in conflicts
    assert ("s1@s1._presence._tcp.local", "s1@s1 (2)._presence._tcp.local") in conflicts
    assert [e["instance"] for e in py.events if e.get("mdns") == "service"] == ["s1@s1 (2)"]
    assert [e["name"] for e in c_engine.events if e["what"] == "service"] == ["s1@s1"]


def run_link_py_only(py: Any, until_s: float) -> None:
    t = 0.0
    while t <= until_s:
        py.poll(t)
        py.outgoing = []
        t = round(t + 0.01, 3)


def query(name: tuple[str, ...], qtype: int, known: list[Any] = ()) -> bytes:  # type: ignore[assignment]
    return dnsmsg.Message(0, 0, questions=[dnsmsg.Question(name, qtype)],
                          answers=list(known)).encode()


def test_known_answers_rate_limit_and_the_shared_answer_delay(c_engine: CEngine) -> None:
    c_engine.setup("c1", "c1@c1", browse=False)
    c_engine.at("start", 0.0)
    settle(c_engine, 0.0, 3.0)  # probed and announced
    c_engine.sent.clear()
    stype = (*PRESENCE.split("."), "local")
    instance = ("c1@c1", *stype)
    # §7.1: the querier already knows the PTR with more than half its TTL: no answer
    known = dnsmsg.Record(stype, dnsmsg.PTR, instance, 4500)
    c_engine.receive(query(stype, dnsmsg.PTR, [known]), PY_ADDRESS, 10.0)
    settle(c_engine, 10.0, 11.0)
    assert c_engine.sent == []
    # ... with less than half left it answers, after 20-120 ms (§6: a shared record)
    stale = dnsmsg.Record(stype, dnsmsg.PTR, instance, 2000)
    c_engine.receive(query(stype, dnsmsg.PTR, [stale]), PY_ADDRESS, 20.0)
    settle(c_engine, 20.0, 21.0)
    (t, dest, _port, data), = c_engine.sent
    assert dest is None and 0.020 <= round(t - 20.0, 3) <= 0.120
    answer = DNS(data)
    assert [r.type for r in iter_rr(answer.an)] == [12]
    assert sorted(r.type for r in iter_rr(answer.ar)) == [16, 28, 33]  # RFC 6763 §12
    # §6: the same record is not multicast again within a second
    c_engine.sent.clear()
    c_engine.receive(query(stype, dnsmsg.PTR), PY_ADDRESS, 20.5)
    settle(c_engine, 20.5, 21.5)
    assert c_engine.sent == []
    c_engine.receive(query(stype, dnsmsg.PTR), PY_ADDRESS, 22.0)
    settle(c_engine, 22.0, 23.0)
    assert len(c_engine.sent) == 1
    # a unique record (SRV) is answered at once; a legacy querier (port != 5353) gets its
    # id and question back, TTL at most 10 s, no cache-flush bit, to its own port (§6.7)
    c_engine.sent.clear()
    legacy = dnsmsg.Message(0x1234, 0, questions=[dnsmsg.Question(instance, dnsmsg.SRV)])
    c_engine.receive(legacy.encode(), PY_ADDRESS, 30.0, port=40000)
    (t, dest, port, data), = c_engine.sent
    assert (t, dest, port) == (30.0, PY_ADDRESS, 40000)
    reply = DNS(data)
    assert reply.id == 0x1234 and reply.qdcount == 1
    assert [(r.type, r.ttl, r.cacheflush) for r in iter_rr(reply.an)] == [(33, 10, 0)]


def settle(c: CEngine, start: float, until: float) -> None:
    now = start
    while now <= until:
        c.at("poll", now)
        t = c.deadline()
        now = until + 1 if t is None or t > until else max(now + 0.001, t)


def test_a_cached_record_is_refreshed_at_80_to_95_percent_of_its_ttl_then_dropped(
        c_engine: CEngine) -> None:
    c_engine.setup("c1", None)
    c_engine.at("start", 0.0)
    py = python_engine("p1", "p1@p1")
    py.start(0.0)
    run_link(c_engine, py, 4.0)  # found: PTR, SRV, TXT and AAAA cached
    assert [e["name"] for e in c_engine.events if e["what"] == "service"] == ["p1@p1"]
    c_engine.sent.clear()
    # the peer goes silent: the SRV and AAAA (TTL 120 s) are asked for four times, then gone
    settle(c_engine, 4.0, 140.0)
    received = last_srv_time(c_engine)
    srv_queries = [t for t, p in decoded(c_engine) if p.qr == 0 and p.qdcount
                   and any(q.qtype == 33 for q in iter_rr(p.qd)) and t < received + 120]
    assert len(srv_queries) == 4, srv_queries
    for t, (low, high) in zip(srv_queries, [(0.80, 0.82), (0.85, 0.87), (0.90, 0.92),
                                            (0.95, 0.97)], strict=True):
        assert received + 120 * low - 0.002 <= t <= received + 120 * high + 0.002
    removed = [e for e in c_engine.events if e["what"] == "service-removed"]
    assert len(removed) == 1 and removed[0]["name"] == "p1@p1"
    assert received + 119.9 <= removed[0]["t"] <= received + 120.1


def last_srv_time(c: CEngine) -> float:
    """When C was last given the peer's SRV (its TTL counts from there)."""
    return max(t for t, data in c.heard
               if any(r.rtype == dnsmsg.SRV for r in dnsmsg.decode(data).answers
                      + dnsmsg.decode(data).additional))


def test_goodbye_and_a_malformed_packet(c_engine: CEngine) -> None:
    c_engine.setup("c1", "c1@c1", browse=False)
    c_engine.at("start", 0.0)
    settle(c_engine, 0.0, 3.0)
    garbage = bytes.fromhex("000084000000000100000000") + b"\x05s1"  # a name cut short
    with pytest.raises(dnsmsg.DNSError) as python:
        dnsmsg.decode(garbage)
    c_engine.receive(garbage, PY_ADDRESS, 4.0)
    (bad,) = [e for e in c_engine.events if e["what"] == "malformed"]
    assert bad["offset"] == python.value.offset
    c_engine.sent.clear()
    c_engine.at("stop", 5.0)  # §10.1: every record once more, TTL 0
    (_t, dest, _port, data), = c_engine.sent
    bye = DNS(data)
    assert dest is None and bye.qr == 1
    assert sorted((r.type, r.ttl) for r in iter_rr(bye.an)) == [(12, 0), (12, 0), (16, 0),
                                                                (28, 0), (33, 0)]


def test_with_every_mechanism_compiled_out_nothing_waits_and_nothing_is_suppressed(
        binary_without_mechanisms: Path) -> None:
    c = CEngine(binary_without_mechanisms)
    try:
        c.setup("c1", "c1@c1", browse=False)
        c.at("start", 0.0)
        settle(c, 0.0, 3.0)
        assert c.sent == []  # no probes, no announcements
        stype = (*PRESENCE.split("."), "local")
        known = dnsmsg.Record(stype, dnsmsg.PTR, ("c1@c1", *stype), 4500)
        for at in (10.0, 10.2):  # no known-answer suppression, no delay, no rate limit
            c.receive(query(stype, dnsmsg.PTR, [known]), PY_ADDRESS, at)
        assert [t for t, *_ in c.sent] == [10.0, 10.2]
        c.sent.clear()
        c.at("stop", 11.0)
        assert c.sent == []  # no goodbye
    finally:
        c.close()
