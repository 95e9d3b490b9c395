"""reading.py: one reading in every format, read back by independent decoders (json, cbor2,
ElementTree), and the value every firmware computes."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cbor2
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reading  # noqa: E402

T = 1795671609.618
names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
values = st.integers(0, 999).map(lambda tenths: tenths / 10)


def test_senml_json_is_the_rfc_8428_pack_with_fixed_decimals():
    data = reading.senml_json("s1", 7, T, [("temperature", 22.5)])
    assert data == (b'[{"bn":"s1/","bt":1795671609.618,"n":"temperature","u":"Cel","v":22.5},'
                    b'{"n":"seq","v":7}]')


@given(names, st.integers(0, 2**31), st.floats(0, 4e9), st.lists(
    st.tuples(st.sampled_from(["temperature", "humidity", "wind"]), values), min_size=1,
    max_size=3))
def test_json_and_cbor_packs_say_the_same(node, seq, t, readings):
    """json.loads of the JSON pack and cbor2.loads of the CBOR pack agree record for record
    (labels by RFC 8428 table 4), to the decimals the JSON is written with."""
    from_json = json.loads(reading.senml_json(node, seq, t, readings))
    from_cbor = cbor2.loads(reading.senml_cbor(node, seq, t, readings))
    labels = {-2: "bn", -3: "bt", 0: "n", 1: "u", 2: "v"}
    assert len(from_json) == len(from_cbor) == len(readings) + 1
    for j, c in zip(from_json, from_cbor, strict=True):
        c = {labels[k]: v for k, v in c.items()}
        assert j.keys() == c.keys()
        for key in j:
            if key == "bt":
                assert abs(j[key] - c[key]) <= 0.0005 + 1e-6 * abs(c[key])
            elif key == "v":
                assert round(j[key], 1) == round(c[key], 1)
            else:
                assert j[key] == c[key]


def test_xep0323_and_text_forms():
    fields = ET.fromstring(reading.xep0323("s1", 3, T, [("temperature", 22.5)]))
    assert fields.get("seqnr") == "3"
    numeric = fields.find(".//{urn:xmpp:iot:sensordata}numeric")
    assert numeric.get("value") == "22.5" and numeric.get("unit") == "Cel"
    assert reading.text("s1", 3, T, [("temperature", 22.5)]) == b"seq=3 t=1795671609.618 v=22.5"


def test_reading_values_are_deterministic_and_plausible():
    series = [reading.reading_value("s1", "temperature", seq, 1) for seq in range(1, 50)]
    assert series == [reading.reading_value("s1", "temperature", seq, 1) for seq in range(1, 50)]
    assert all(20.0 <= v <= 29.9 for v in series) and len(set(series)) > 10
    assert series != [reading.reading_value("s2", "temperature", seq, 1) for seq in range(1, 50)]
    # by hand: "s1/temperature" folds (x31 + byte, mod 1000) to 859;
    # (1*37 + 1*11 + 859) % 100 = 7 -> 20.7
    assert reading.reading_value("s1", "temperature", 1, 1) == 20.7


def test_both_apps_hold_this_module():
    """Each app folder links to this one file: the two apps cannot drift apart."""
    here = Path(reading.__file__).resolve()
    for app in ("coap-sensor", "xmpp-sensor"):
        assert (here.parents[1] / app / "reading.py").resolve() == here
