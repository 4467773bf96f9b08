"""Both directions against the independent implementation, and transport mangling."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sso.multipass import InvalidToken, MultipassCodec

from . import independent as spec

SECRET = "interop secret ✓"
NOW = datetime(2024, 2, 29, 12, 5, tzinfo=UTC)
CREATED_AT_STYLES = {
    "Z with ms (Node)": "2024-02-29T12:00:00.123Z",
    "+00:00 with µs (Python)": "2024-02-29T12:00:00.123456+00:00",
    "-04:00 no fraction (Ruby)": "2024-02-29T08:00:00-04:00",
    "naive (read as UTC)": "2024-02-29T12:00:00",
}


@pytest.fixture
def codec() -> MultipassCodec:
    return MultipassCodec(SECRET)


@pytest.mark.parametrize("strip", [False, True], ids=["padding kept", "padding stripped"])
@pytest.mark.parametrize("created_at", CREATED_AT_STYLES.values(), ids=CREATED_AT_STYLES.keys())
def test_their_tokens_decode_with_ours(codec: MultipassCodec, created_at: str, strip: bool) -> None:
    claims = {"email": "zoë@example.com", "login": "zoë", "created_at": created_at}
    token = spec.encode(SECRET, claims, strip=strip)
    assert token.endswith("=") != strip or len(token) % 4 == 0
    assert codec.decode(token, now=NOW) == claims


@pytest.mark.parametrize("strip", [False, True], ids=["padding kept", "padding stripped"])
@pytest.mark.parametrize("created_at", CREATED_AT_STYLES.values(), ids=CREATED_AT_STYLES.keys())
def test_our_tokens_decode_with_theirs(codec: MultipassCodec, created_at: str, strip: bool) -> None:
    token = codec.encode({"email": "a@example.com", "name": "Ann 山田", "created_at": created_at}, now=NOW)
    if strip:
        token = token.rstrip("=")
    claims = spec.decode(SECRET, token)
    assert claims["email"] == "a@example.com" and claims["name"] == "Ann 山田"
    # Whatever came in, what goes out carries an explicit offset and means the same instant.
    sent = datetime.fromisoformat(claims["created_at"])
    assert sent.tzinfo is not None
    assert sent == datetime(2024, 2, 29, 12, 0, tzinfo=UTC) + timedelta(
        microseconds=datetime.fromisoformat(created_at).microsecond
    )


def test_created_at_added_by_us_has_an_explicit_offset(codec: MultipassCodec) -> None:
    claims = spec.decode(SECRET, codec.encode({"email": "a@example.com"}, now=NOW))
    assert claims["created_at"] == "2024-02-29T12:05:00+00:00"
    local = datetime(2024, 2, 29, 8, 5, tzinfo=timezone(timedelta(hours=-4)))
    claims = spec.decode(SECRET, codec.encode({"email": "a@example.com", "created_at": local}))
    assert datetime.fromisoformat(claims["created_at"]) == NOW


def _token_with(char_wanted: str, codec: MultipassCodec) -> str:
    """A standard-alphabet (``+``/``/``) token of ours that contains ``char_wanted``."""
    for n in range(500):
        token = codec.encode({"email": "a@example.com", "n": n}, now=NOW)
        standard = base64.b64encode(base64.urlsafe_b64decode(token)).decode("ascii")
        if char_wanted in standard:
            return standard
    raise AssertionError("no token with the character")  # probability ~ (63/64)**(500*150)


@pytest.mark.parametrize("char", ["+", "/"])
def test_standard_alphabet_decodes(codec: MultipassCodec, char: str) -> None:
    token = _token_with(char, codec)
    assert codec.decode(token, now=NOW)["email"] == "a@example.com"


def test_plus_turned_into_space_still_decodes(codec: MultipassCodec) -> None:
    token = _token_with("+", codec).replace("+", " ")
    assert " " in token
    assert codec.decode(token, now=NOW)["email"] == "a@example.com"


def test_plus_as_space_at_either_end_still_decodes(codec: MultipassCodec) -> None:
    """A leading or trailing space is a mangled '+', not whitespace to strip."""
    for iv_first in (b"\xfb", b"\xf8"):  # base64 of 0xF8.. starts with '+'
        iv = iv_first + bytes(15)
        token = base64.b64encode(base64.urlsafe_b64decode(spec.encode(SECRET, _claims(), iv))).decode()
        assert token.startswith("+")
        assert codec.decode(" " + token[1:], now=NOW) == _claims()
    # A stripped token whose last character is '+' (only when the raw length is a multiple of 3).
    for n in range(2000):
        token = base64.b64encode(base64.urlsafe_b64decode(spec.encode(SECRET, _claims(n)))).decode().rstrip("=")
        if token.endswith("+"):
            assert codec.decode(token[:-1] + " ", now=NOW) == _claims(n)
            return
    raise AssertionError("no token ending in '+'")


def test_newlines_anywhere_still_decode(codec: MultipassCodec) -> None:
    token = codec.encode(_claims(), now=NOW)
    middle = len(token) // 2
    for mangled in (token[:middle] + "\n" + token[middle:], token[:middle] + "\r\n" + token[middle:],
                    token + "\n", "\n".join(token[i:i + 76] for i in range(0, len(token), 76))):
        assert codec.decode(mangled, now=NOW) == _claims()


def test_bytes_token_decodes(codec: MultipassCodec) -> None:
    assert codec.decode(codec.encode(_claims(), now=NOW).encode("ascii"), now=NOW) == _claims()


def test_other_punctuation_is_refused(codec: MultipassCodec) -> None:
    token = codec.encode(_claims(), now=NOW)
    for mangled in (token.replace("=", "%3D"), "." + token, token[:10] + "*" + token[10:]):
        with pytest.raises(InvalidToken):
            codec.decode(mangled, now=NOW)


def _claims(n: int = 0) -> dict[str, object]:
    return {"email": "a@example.com", "p": "x" * (n % 48), "created_at": "2024-02-29T12:00:00+00:00"}
