"""XEP-0198 counters on the sensor: what an <a h=/> settles and what a resumption writes again.

The resumption against prosody's mod_smacks runs end to end in tests/e2e/test_reconnect.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stream_management import MOD, StreamManagement, answer, resume
from xmltok import Element, StanzaBuilder


def session(start: int = 0) -> StreamManagement:
    sm = StreamManagement()
    sm.enabled(Element("enabled", {"id": "abc", "resume": "true"}))
    sm.sent = start
    return sm


def test_enabled_without_resume_leaves_nothing_to_resume() -> None:
    sm = StreamManagement()
    sm.enabled(Element("enabled", {"id": "abc"}))
    assert sm.resume_id is None
    sm.enabled(Element("enabled", {"id": "abc", "resume": "1"}))  # xs:boolean allows 1
    assert sm.resume_id == "abc"


@given(start=st.sampled_from([0, 5, MOD - 3, MOD - 1]),
       carried=st.lists(st.booleans(), max_size=12), data=st.data())
def test_an_ack_settles_exactly_the_stanzas_up_to_h(start: int, carried: list[bool],
                                                     data: st.DataObject) -> None:
    """Numbers wrap at 2^32: the stanzas numbered up to h (mod 2^32) are done, the rest stay,
    and a resumption at h gives back exactly the rest's readings, in order."""
    sm = session(start)
    readings = []
    for i, has_reading in enumerate(carried):
        reading = (i, 0.0, []) if has_reading else None
        sm.counted(reading)
        readings.append(reading)
    got = data.draw(st.integers(0, len(carried)), label="stanzas the server had")
    h = (start + got) % MOD
    done = sm.acked(h)
    assert done == [r for r in readings[:got] if r is not None]
    assert sm.readings_unacked() == sum(r is not None for r in readings[got:])
    again = sm.resumed(h)
    assert again == [r for r in readings[got:] if r is not None]
    assert sm.sent == h and sm.unacked == []


def test_failed_gives_back_every_unacked_reading_and_forgets_the_session() -> None:
    sm = session()
    sm.counted((1, 0.0, []))
    sm.counted(None)
    sm.counted((2, 0.0, []))
    sm.acked(1)
    assert sm.failed() == [(2, 0.0, [])]
    assert sm.resume_id is None and sm.readings_unacked() == 0


def test_the_nonzas_parse_back_with_their_counts() -> None:
    builder = StanzaBuilder()
    builder.feed(b"<stream:stream xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams'>")
    items = builder.feed((answer(MOD + 7) + resume(3, "a'b<")).encode())
    (_, a), (_, r) = items
    assert (a.local, a.get("xmlns"), a.get("h")) == ("a", "urn:xmpp:sm:3", "7")
    assert (r.local, r.get("h"), r.get("previd")) == ("resume", "3", "a'b<")
