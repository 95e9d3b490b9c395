"""TLS record boundaries in a byte stream (RFC 8446 §5.1, RFC 5246 §6.2): every byte once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from testbed.analysis.tls import Record, split_records

from .frames import assert_tiles

CLIENT_HELLO = b"\x16\x03\x01\x00\x04" + b"\x01\x00\x00\x00"


def test_records_are_framed_by_their_length() -> None:
    data = b"xx" + CLIENT_HELLO + b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03\x00\x03abc"
    assert split_records(data, 2) == [Record(2, 11, 22), Record(11, 17, 20), Record(17, 25, 23)]


def test_a_record_cut_short_or_not_a_record_ends_the_split() -> None:
    assert split_records(CLIENT_HELLO + b"\x17\x03\x03\x00\x09abc") == [
        Record(0, 9, 22), Record(9, 17, None)]
    assert split_records(b"<message/>") == [Record(0, 10, None)]
    assert split_records(CLIENT_HELLO + b"\x17\x03") == [Record(0, 9, 22), Record(9, 11, None)]
    assert split_records(b"") == []


_RECORD = st.builds(lambda t, body: bytes((t, 3, 3)) + len(body).to_bytes(2, "big") + body,
                    st.sampled_from([20, 21, 22, 23]), st.binary(max_size=40))


@given(st.lists(_RECORD, max_size=8), st.binary(max_size=12))
def test_every_byte_in_exactly_one_record(records: list[bytes], tail: bytes) -> None:
    data = b"".join(records) + tail
    out = split_records(data)
    assert_tiles(out, len(data))
    assert [r.end - r.start for r in out[:len(records)]] == [len(r) for r in records]
    assert all(r.content_type is not None for r in out[:len(records)])
