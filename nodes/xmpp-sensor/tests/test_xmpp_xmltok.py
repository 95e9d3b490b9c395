"""The incremental XML tokenizer: same events however the stream is split; escaping round-trips."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xmltok import StanzaBuilder, Tokenizer, escape, unescape

STREAM = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' "
    "from='iot.testbed' id='a&amp;b' version='1.0'><stream:features><mechanisms "
    "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    "<mechanism>SCRAM-SHA-1</mechanism>"
    "</mechanisms></stream:features> <!-- a comment --><message from=\"a@b/c\" to='x'>"
    "<body>1 &lt; 2 &#x263A; "
    "h\u00e9 &#65;</body><x a='q&quot;&gt;' b = \"it's > this\"/></message>\n</stream:stream>"
).encode()


def tokens(chunks: list[bytes]) -> list[tuple]:
    tokenizer = Tokenizer()
    out: list[tuple] = []
    for chunk in chunks:
        out.extend(tokenizer.feed(chunk))
    return out


def test_events_of_a_whole_stream() -> None:
    events = tokens([STREAM])
    assert events[0] == (
        "start",
        "stream:stream",
        {
            "xmlns": "jabber:client",
            "xmlns:stream": "http://etherx.jabber.org/streams",
            "from": "iot.testbed",
            "id": "a&b",
            "version": "1.0",
        },
    )
    assert ("text", "1 < 2 \u263a h\u00e9 A") in events
    assert ("start", "x", {"a": 'q">', "b": "it's > this"}) in events
    assert events[-1] == ("end", "stream:stream")
    assert not any(e[0] == "text" and "comment" in e[1] for e in events)


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_split_anywhere_gives_the_same_events(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in zip(bounds, bounds[1:])]
    assert tokens(chunks) == tokens([STREAM])


@given(st.text())
def test_escape_round_trips(text: str) -> None:
    assert unescape(escape(text)) == text


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True),
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
        max_size=4,
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
    st.data(),
)
def test_agrees_with_elementtree(attrs: dict[str, str], text: str, data: st.DataObject) -> None:
    attr_text = "".join(f" {k}='{escape(v)}'" for k, v in attrs.items())
    document = f"<root><item{attr_text}>{escape(text)}</item><empty/></root>".encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(document)), max_size=10)))
    bounds = [0, *cuts, len(document)]
    builder = StanzaBuilder()
    items = []
    for a, b in zip(bounds, bounds[1:]):
        items.extend(builder.feed(document[a:b]))
    assert items[0] == ("open", {})
    item = items[1][1]
    oracle = ET.fromstring(document).find("item")
    assert item.attrs == oracle.attrib
    assert item.text == (oracle.text or "")
    assert items[2][1].tag == "empty" and items[3] == ("close",)


def test_stanza_builder_nests_children() -> None:
    items = StanzaBuilder().feed(STREAM)
    kinds = [i[0] for i in items]
    assert kinds == ["open", "element", "element", "close"]
    features = items[1][1]
    mechanisms = features.find("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")
    assert [m.text for m in mechanisms.children] == ["PLAIN", "SCRAM-SHA-1"]


def test_dtd_is_refused() -> None:
    with pytest.raises(ValueError, match="RFC 6120"):
        Tokenizer().feed(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>")


def test_an_end_tag_with_nothing_open_is_not_well_formed() -> None:
    # fuzz_parsers.py found it: a stream closed twice popped an empty stack (IndexError)
    builder = StanzaBuilder()
    assert builder.feed(b"<stream:stream></stream:stream>") == [("open", {}), ("close",)]
    with pytest.raises(ValueError, match="end tag </x> without a start tag"):
        builder.feed(b"</x>")


@pytest.mark.parametrize("reference", ["&#99999999999999999999;", "&#x110000;", "&#-5;", "&#0;"])
def test_a_character_reference_outside_unicode_is_not_well_formed(reference: str) -> None:
    # chr() of a 20-digit number raised OverflowError, not the ValueError the client expects
    with pytest.raises(ValueError, match="outside Unicode"):
        unescape(reference)
