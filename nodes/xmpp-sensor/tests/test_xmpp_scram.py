"""SASL: HMAC-SHA-1 / PBKDF2 against hashlib, SCRAM-SHA-1 against RFC 5802 §5, PLAIN (RFC 4616)."""

from __future__ import annotations

import hashlib
import hmac
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scram


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_sha1_matches_the_standard_library(key: bytes, message: bytes) -> None:
    assert scram.hmac_sha1(key, message) == hmac.new(key, message, hashlib.sha1).digest()


@settings(max_examples=30)
@given(st.binary(max_size=40), st.binary(min_size=1, max_size=20), st.integers(1, 50))
def test_hi_is_pbkdf2_hmac_sha1(password: bytes, salt: bytes, iterations: int) -> None:
    assert scram.hi(password, salt, iterations) == hashlib.pbkdf2_hmac(
        "sha1", password, salt, iterations
    )


def test_rfc5802_example() -> None:
    """RFC 5802 §5: user 'user', password 'pencil', 4096 iterations."""
    exchange = scram.ScramSha1("user", "pencil", "fyko+d2lbbFgONRv9qkxdawL")
    assert exchange.first() == b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    final = exchange.final(
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    )
    assert (
        final
        == b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    )
    assert exchange.verify(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")


def test_scram_rejects_a_wrong_server_signature_and_foreign_nonce() -> None:
    exchange = scram.ScramSha1("user", "pencil", "fyko+d2lbbFgONRv9qkxdawL")
    exchange.final(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")
    with pytest.raises(ValueError, match="signature"):
        exchange.verify(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    with pytest.raises(ValueError, match="nonce"):
        scram.ScramSha1("user", "pencil", "abc").final(b"r=xyz,s=QSXCR+Q6sek8bf92,i=1")


def test_saslname_escapes_comma_and_equals() -> None:
    assert scram.ScramSha1("a,b=c", "p", "n").first() == b"n,,n=a=2Cb=3Dc,r=n"


def test_plain_message() -> None:
    """RFC 4616 §2: [authzid] NUL authcid NUL passwd."""
    assert scram.plain_message("s1", "pw") == b"\x00s1\x00pw"


@pytest.mark.parametrize("server_first, message", [
    (b"s=QSXCR+Q6sek8bf92,i=4096", "lacks r="),  # fuzz_parsers.py: was a KeyError
    (b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", "lacks s="),
    (b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92", "lacks i="),
    (b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=999999999", "outside 1..65536"),
    (b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0", "outside 1..65536"),
])
def test_a_malformed_server_first_message_is_a_value_error(server_first: bytes,
                                                           message: str) -> None:
    exchange = scram.ScramSha1("user", "pencil", "fyko+d2lbbFgONRv9qkxdawL")
    with pytest.raises(ValueError, match=message):
        exchange.final(server_first)
