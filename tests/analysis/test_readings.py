"""analysis/readings.py: the reading a payload carries, in every format, as the nodes write it
(nodes/common/reading.py for CoAP, stanzas.py's payload element for XMPP)."""

from __future__ import annotations

import sys
from pathlib import Path

import cbor2
from hypothesis import given
from hypothesis import strategies as st

from testbed.analysis.readings import reading_seq

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "nodes" / "xmpp-sensor"))
import reading as node_reading  # noqa: E402
import stanzas  # noqa: E402

names = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e,
                                       blacklist_characters="<>&'\""), min_size=1, max_size=8)


@given(st.sampled_from(node_reading.FORMATS), names, st.integers(0, 2**31), st.floats(0, 4e9))
def test_the_seq_of_every_format_in_both_carriers(fmt, node, seq, t):
    values = [("temperature", 22.5)]
    assert reading_seq(node_reading.encode(fmt, node, seq, t, values)) == seq  # CoAP payload
    stanza = stanzas.message("sink@iot.testbed", stanzas.payload(fmt, node, seq, t, values))
    assert reading_seq(stanza.encode()) == seq  # the XMPP stanza's bytes


def test_what_carries_no_reading():
    assert reading_seq(b"temperature 20.7") is None
    assert reading_seq(b"\x82garbage") is None
    assert reading_seq(cbor2.dumps([{0: "temperature", 2: 1.0}])) is None
    assert reading_seq(b"<presence/>") is None
    assert reading_seq(b"<cbor xmlns='x'>!!!</cbor>") is None
