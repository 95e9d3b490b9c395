"""The C XMPP client's Contiki-free parts against Python, through a host-gcc driver.

nodes/contiki/lib/xmpp/tests/xmpp-driver.c links the library's SHA-1 / HMAC / PBKDF2,
base64, SCRAM-SHA-1 message and XML tokenizer sources (the same files the firmware
compiles) and answers one command per line; hypothesis generates the inputs and Python is
the oracle: hashlib, hmac and base64 from the standard library, the Python sensor's own
scram.py (ScramSha1) and xmltok.py (Tokenizer) for what the C client must do alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "nodes" / "contiki" / "lib" / "xmpp"
PYTHON_SENSOR = ROOT / "nodes" / "xmpp-sensor"
BUILD = ROOT / "build" / "tests" / "contiki" / "xmpp-driver"
SOURCES = ["tests/xmpp-driver.c", "xmpp-sha1.c", "xmpp-base64.c", "xmpp-scram-msg.c",
           "xmpp-xml.c"]
# the tokenizer's buffers as the driver builds them: room for what hypothesis generates
NAME_MAX, VALUE_MAX = 64, 250

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"xmpp_sensor_{name}",
                                                  PYTHON_SENSOR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scram = load("scram")
xmltok = load("xmltok")


def h(data: bytes) -> str:
    """An argument of the driver in hex; "-" for no bytes (the driver splits on spaces)."""
    return data.hex() or "-"


class Driver:
    """The driver process: `ask(line)` -> its answer lines."""

    def __init__(self, binary: Path) -> None:
        self.process = subprocess.Popen([str(binary)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = []
        while (got := self.process.stdout.readline().rstrip("\n")) != ".":
            assert got or self.process.poll() is None, f"driver died on {line[:80]!r}"
            answer.append(got)
        return answer

    def one(self, line: str) -> str:
        (answer,) = self.ask(line)
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    BUILD.mkdir(parents=True, exist_ok=True)
    binary = BUILD / "xmpp-driver"
    argv = ["gcc", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{LIB}",
            f"-DXMPP_XML_CONF_NAME_MAX={NAME_MAX}", f"-DXMPP_XML_CONF_VALUE_MAX={VALUE_MAX}",
            "-o", str(binary), *(str(LIB / s) for s in SOURCES)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    d = Driver(binary)
    yield d
    d.close()


# --- SHA-1, HMAC, PBKDF2, base64 -------------------------------------------------------------

@SETTINGS
@given(data=st.binary(max_size=300))
def test_sha1_is_hashlib_sha1(driver: Driver, data: bytes) -> None:
    assert driver.one(f"sha1 {h(data)}") == hashlib.sha1(data).hexdigest()


@pytest.mark.parametrize("size", [0, 55, 56, 63, 64, 65, 119, 120, 128, 1000])
def test_sha1_at_the_padding_boundaries(driver: Driver, size: int) -> None:
    data = bytes(range(256)) * 4
    assert driver.one(f"sha1 {h(data[:size])}") == hashlib.sha1(data[:size]).hexdigest()


@SETTINGS
@given(key=st.binary(max_size=150), message=st.binary(max_size=200))
def test_hmac_sha1_is_python_hmac(driver: Driver, key: bytes, message: bytes) -> None:
    expected = hmac.new(key, message, hashlib.sha1).hexdigest()
    assert driver.one(f"hmac {h(key)} {h(message)}") == expected
    assert scram.hmac_sha1(key, message).hex() == expected  # the Python sensor's own, too


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=st.binary(max_size=80), salt=st.binary(max_size=40),
       iterations=st.integers(min_value=1, max_value=64))
def test_pbkdf2_is_hashlib_pbkdf2_hmac(driver: Driver, password: bytes, salt: bytes,
                                       iterations: int) -> None:
    expected = hashlib.pbkdf2_hmac("sha1", password, salt, iterations, 20).hex()
    assert driver.one(f"pbkdf2 {h(password)} {h(salt)} {iterations}") == expected


def test_pbkdf2_at_prosodys_4096_iterations(driver: Driver) -> None:
    expected = hashlib.pbkdf2_hmac("sha1", b"pencil", b"salt-of-16-bytes", 4096, 20).hex()
    assert driver.one(f"pbkdf2 {b'pencil'.hex()} {b'salt-of-16-bytes'.hex()} 4096") == expected


@SETTINGS
@given(data=st.binary(max_size=100))
def test_base64_both_ways(driver: Driver, data: bytes) -> None:
    text = base64.b64encode(data).decode()
    assert driver.one(f"b64e {h(data)}") == text
    if text:
        assert driver.one(f"b64d {text}") == data.hex()


def test_base64_refuses_a_character_outside_the_alphabet(driver: Driver) -> None:
    assert driver.one("b64d abc*") == "ERR"


# --- SCRAM-SHA-1 (RFC 5802) -----------------------------------------------------------------

NONCE_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=",")


@SETTINGS
@given(user=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                    max_size=16),
       password=st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=1),
                        max_size=24),
       nonce=st.text(NONCE_CHARS, min_size=1, max_size=24),
       server_nonce=st.text(NONCE_CHARS, max_size=36),
       salt=st.binary(min_size=1, max_size=24),
       iterations=st.integers(min_value=1, max_value=40))
def test_scram_final_message_is_the_python_sensors(
        driver: Driver, user: str, password: str, nonce: str, server_nonce: str, salt: bytes,
        iterations: int) -> None:
    """client-final-message and server signature byte for byte as scram.py's ScramSha1."""
    server_first = (f"r={nonce}{server_nonce},s={base64.b64encode(salt).decode()},"
                    f"i={iterations}").encode()
    python = scram.ScramSha1(user, password, nonce)
    expected = python.final(server_first).decode()
    answer = driver.one(f"scram {h(user.encode())} {h(password.encode())} {nonce} "
                        f"{server_first.hex()}")
    final, signature = answer.split(" ")
    assert final == expected
    assert signature == python.server_signature.hex()
    server_final = b"v=" + base64.b64encode(python.server_signature)
    assert driver.one(f"check {server_final.hex()} {signature}") == "OK"
    wrong = bytes([python.server_signature[0] ^ 1]) + python.server_signature[1:]
    assert driver.one(f"check {(b'v=' + base64.b64encode(wrong)).hex()} "
                      f"{signature}").startswith("ERR")


@pytest.mark.parametrize("server_first, why", [
    (b"r=OTHERnonce,s=c2FsdA==,i=4096", "server nonce does not extend ours"),
    (b"r=abcdef,s=c2FsdA==", "lacks"),
    (b"r=abcdef,s=c2FsdA==,i=0", "iteration count"),
    (b"r=abcdef,s=c2FsdA==,i=65537", "iteration count"),
    (b"e=invalid-proof", "server error"),
])
def test_scram_refuses_what_scram_py_refuses(driver: Driver, server_first: bytes,
                                            why: str) -> None:
    with pytest.raises(ValueError):
        scram.ScramSha1("n1", "secret", "abc").final(server_first)
    answer = driver.one(f"scram {b'n1'.hex()} {b'secret'.hex()} abc {server_first.hex()}")
    assert answer.startswith("ERR") and why in answer


# --- the streaming XML tokenizer ------------------------------------------------------------

NAMES = st.from_regex(r"\A[a-z][a-z0-9_.:-]{0,12}\Z")
CHARS = st.characters(blacklist_categories=("Cs",), min_codepoint=1)


def escaped(text: str, quote: str | None, draw_refs: list[bool]) -> str:
    """Escape what must be (&, <, the quote) and write some other characters as character
    references, decimal or hex, as a server may."""
    out = []
    for i, c in enumerate(text):
        if c == "&":
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif quote is not None and c == quote:
            out.append("&apos;" if c == "'" else "&quot;")
        elif draw_refs and draw_refs[i % len(draw_refs)]:
            out.append(f"&#{ord(c)};" if i % 2 else f"&#x{ord(c):X};")
        else:
            out.append(c)
    return "".join(out)


@st.composite
def element(draw: st.DrawFn, depth: int = 0) -> str:
    name = draw(NAMES)
    refs = draw(st.lists(st.booleans(), max_size=5))
    attrs = draw(st.dictionaries(NAMES, st.text(CHARS, max_size=30), max_size=3))
    parts = []
    for key, value in attrs.items():
        quote = draw(st.sampled_from("'\""))
        space = draw(st.sampled_from([" ", "  ", "\n", " \t"]))
        parts.append(f"{space}{key}={quote}{escaped(value, quote, refs)}{quote}")
    head = name + "".join(parts) + draw(st.sampled_from(["", " ", "\n"]))
    if draw(st.booleans()):
        return f"<{head}/>"
    children = []
    for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
        kind = draw(st.sampled_from(["element", "text", "comment", "pi"]))
        if kind == "element":
            children.append(draw(element(depth + 1)))
        elif kind == "text":
            children.append(escaped(draw(st.text(CHARS, max_size=40)), None, refs))
        elif kind == "comment":
            children.append(f"<!--{draw(st.text(CHARS, max_size=10)).replace('-', '')}-->")
        else:
            children.append("<?xml version='1.0'?>")
    return f"<{head}>{''.join(children)}</{name}{draw(st.sampled_from(['', ' ']))}>"


def python_events(document: bytes, chunk: int) -> list[str]:
    """The Python sensor's Tokenizer fed `chunk` bytes at a time, in the driver's notation."""
    tokenizer = xmltok.Tokenizer()
    lines = []
    for i in range(0, len(document), chunk):
        for event in tokenizer.feed(document[i:i + chunk]):
            if event[0] == "start":
                lines.append(f"S {event[1].encode().hex()}")
                lines += [f"A {k.encode().hex()} {v.encode().hex()}" for k, v in
                          event[2].items()]
            elif event[0] == "end":
                lines.append(f"E {event[1].encode().hex()}")
            else:
                lines.append(f"T {event[1].encode().hex()}")
    return lines


@SETTINGS
@given(document=element(), tail=st.sampled_from(["", "<", "<ab", "text", "<!-- x"]),
       chunk=st.integers(min_value=1, max_value=64))
def test_tokenizer_gives_the_python_tokenizers_events(driver: Driver, document: str, tail: str,
                                                      chunk: int) -> None:
    """Any split of the input (even inside a UTF-8 character or an entity), the same events;
    an unfinished tail is kept for later by both. (An unfinished start tag whose name is
    complete is not among the tails: the C tokenizer reports the name at once, the attributes
    as they come, where the Python one waits for the '>'.)"""
    data = (document + tail).encode()
    assert driver.ask(f"xml {chunk} {data.hex()}") == python_events(data, chunk) + ["OK"]


@pytest.mark.parametrize("document", [
    "<!DOCTYPE stream>", "<![CDATA[x]]>", "<a b>", "<a b=1>", "<a>&nbsp;</a>",
    "<a>&#0;</a>", "<a>&#x110000;</a>", "<a>&amp</a>", "<a b='&lt'/>", "<a>&#;</a>",
])
def test_tokenizer_refuses_what_the_python_tokenizer_refuses(driver: Driver,
                                                             document: str) -> None:
    with pytest.raises(ValueError):
        xmltok.Tokenizer().feed(document.encode())
    assert driver.ask(f"xml 7 {document.encode().hex()}")[-1] == "ERR"


def test_tokenizer_text_of_exactly_one_chunk(driver: Driver) -> None:
    """Text that fills the tokenizer's 16-byte chunk exactly, after a shorter run: one text
    event each (the full chunk was once taken for the end of its run; hypothesis found it)."""
    data = "<a a=''>0<a></a>00\x80\x80\x80\U00010000\U00010000</a>".encode()
    assert driver.ask(f"xml 1 {data.hex()}") == python_events(data, 1) + ["OK"]


def test_tokenizer_reads_a_prosody_stream_opening(driver: Driver) -> None:
    """The bytes prosody sends first (stream header and features), in 5-byte pieces."""
    data = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' version='1.0' "
            b"id='c2a1' from='iot.testbed' xmlns:stream='http://etherx.jabber.org/streams' "
            b"xml:lang='en'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:"
            b"xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
            b"</mechanisms></stream:features>")
    answer = driver.ask(f"xml 5 {data.hex()}")
    assert answer == python_events(data, 5) + ["OK"]
    assert f"T {b'SCRAM-SHA-1'.hex()}" in answer
