"""reading.py: the CBOR encoder (RFC 8949) against cbor2, and the SenML CBOR pack (RFC 8428 §6)."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reading  # noqa: E402

scalars = (st.integers(-(2**64), 2**64 - 1) | st.floats(allow_nan=False) | st.text()
           | st.binary() | st.booleans() | st.none())
items = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.integers(-3, 10) | st.text(max_size=5), children, max_size=5),
    max_leaves=20,
)


@given(items)
def test_cbor2_decodes_what_we_encode(item):
    assert cbor2.loads(reading.cbor(item)) == item


@given(st.integers(-(2**64), 2**64 - 1) | st.text() | st.binary())
def test_integers_and_strings_match_cbor2_byte_for_byte(item):
    """Both use the shortest argument encoding (RFC 8949 §4.2.1 preferred serialization)."""
    assert reading.cbor(item) == cbor2.dumps(item)


@given(st.floats(allow_nan=False))
def test_floats_are_single_when_exact_else_double(value):
    data = reading.cbor(value)
    try:
        exact_single = struct.unpack(">f", struct.pack(">f", value))[0] == value
    except OverflowError:
        exact_single = False
    assert data[0] == (0xFA if exact_single else 0xFB)
    assert cbor2.loads(data) == value


@pytest.mark.parametrize("item, data", [
    (0, "00"), (23, "17"), (24, "1818"), (-1, "20"), (-25, "3818"), (1000, "1903e8"),
    ("a", "6161"), (b"", "40"), ([], "80"), ({}, "a0"), (False, "f4"), (None, "f6"),
    (22.5, "fa41b40000"), (1.1, "fb3ff199999999999a"),
])
def test_rfc8949_appendix_a_vectors(item, data):
    assert reading.cbor(item).hex() == data


def test_out_of_range_and_unknown_types_are_refused():
    with pytest.raises(ValueError):
        reading.cbor(2**64)
    with pytest.raises(TypeError):
        reading.cbor(object())


def test_reading_pack_uses_integer_labels_and_carries_seq_and_base_time():
    data = reading.senml_cbor("s1", 7, 1700000000.25, [("temperature", 22.5)])
    assert cbor2.loads(data) == [
        {-2: "s1/", -3: 1700000000.25, 0: "temperature", 1: "Cel", 2: 22.5},
        {0: "seq", 2: 7},
    ]


def test_a_sensor_without_a_known_unit_has_no_u():
    pack = cbor2.loads(reading.senml_cbor("s1", 1, 1.5, [("wind", 3.0)]))
    assert 1 not in pack[0]


def test_several_sensors_share_the_base_record_and_seq_comes_last():
    pack = cbor2.loads(reading.senml_cbor("n2", 4, 10.5, [("temperature", 21.0),
                                                          ("humidity", 40.5)]))
    assert pack == [{-2: "n2/", -3: 10.5, 0: "temperature", 1: "Cel", 2: 21.0},
                    {0: "humidity", 1: "%RH", 2: 40.5}, {0: "seq", 2: 4}]
