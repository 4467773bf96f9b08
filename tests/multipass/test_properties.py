"""Hypothesis: round trips, and every mutation of a valid token raises only InvalidToken."""

from __future__ import annotations

import base64
import math
import string
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sso.multipass import InvalidToken, MultipassCodec

from . import independent as spec

SECRET = "property secret"
CODEC = MultipassCodec(SECRET)
NOW = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
TOKEN = CODEC.encode({"email": "ann@example.com", "login": "ann", "jti": "j-1"}, now=NOW)
RAW = base64.urlsafe_b64decode(TOKEN)
# With a length that is a multiple of 3, every base64 character carries 6 bits of the token:
# no character can change without changing the bytes. (Base64 is decoded leniently, so in a
# token with "=" padding the unused low bits of the last character are not checked; the MAC
# covers the bytes, so such a variant is the same token, not a forgery.)
assert len(RAW) % 3 == 0
FAST = settings(max_examples=150, deadline=None)

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# created_at and exp are checked claims (their own tests below); every other name is free.
claims_strategy = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k not in {"created_at", "exp"}), json_values, max_size=6
)


def _refused(token: str | bytes) -> None:
    try:
        CODEC.decode(token, now=NOW)
    except InvalidToken:
        return
    raise AssertionError("a mutated token was accepted")


@FAST
@given(claims_strategy)
def test_round_trip_of_any_json_claims(claims: dict[str, Any]) -> None:
    decoded = CODEC.decode(CODEC.encode(claims, now=NOW), now=NOW)
    assert decoded.pop("created_at") == "2024-02-29T12:00:00+00:00"
    assert decoded == claims
    assert not any(isinstance(v, float) and math.isnan(v) for v in decoded.values())


@FAST
@given(claims_strategy)
def test_round_trip_through_the_independent_implementation(claims: dict[str, Any]) -> None:
    claims = {**claims, "created_at": "2024-02-29T11:59:00Z"}
    assert spec.decode(SECRET, CODEC.encode(claims)) == claims
    assert CODEC.decode(spec.encode(SECRET, claims), now=NOW) == claims


@FAST
@given(st.integers(0, len(RAW) * 8 - 1))
def test_any_single_bit_flip_is_refused(bit: int) -> None:
    raw = bytearray(RAW)
    raw[bit // 8] ^= 1 << (bit % 8)
    _refused(base64.urlsafe_b64encode(bytes(raw)).decode("ascii"))


@FAST
@given(st.integers(0, len(TOKEN) - 1), st.sampled_from(string.ascii_letters + string.digits + "-_"))
def test_any_single_character_change_is_refused(position: int, char: str) -> None:
    if TOKEN[position] == char or TOKEN[position] == "=":
        return
    _refused(TOKEN[:position] + char + TOKEN[position + 1:])


@FAST
@given(st.integers(0, len(TOKEN) - 1), st.booleans())
def test_any_truncation_is_refused(length: int, as_raw: bool) -> None:
    if as_raw:
        _refused(base64.urlsafe_b64encode(RAW[: length % len(RAW)]).decode("ascii"))
    else:
        _refused(TOKEN.rstrip("=")[:length])


@FAST
@given(st.binary(min_size=1, max_size=64), st.booleans())
def test_any_extension_is_refused(extra: bytes, as_raw: bool) -> None:
    if as_raw:
        _refused(base64.urlsafe_b64encode(RAW + extra).decode("ascii"))
    else:
        _refused(TOKEN + base64.urlsafe_b64encode(extra).decode("ascii"))


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_invalid_token(text: str) -> None:
    _refused(text)


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_invalid_token(data: bytes) -> None:
    _refused(data)
    _refused(base64.urlsafe_b64encode(data))


@FAST
@given(st.binary(min_size=0, max_size=200), st.binary(min_size=16, max_size=16))
def test_authentic_garbage_raises_only_invalid_token(plaintext: bytes, iv: bytes) -> None:
    """Whoever holds the secret can send any plaintext; still nothing but InvalidToken."""
    _refused(spec.seal(SECRET, plaintext, iv))


@FAST
@given(st.text(max_size=40))
def test_arbitrary_created_at_raises_only_invalid_token(created_at: str) -> None:
    token = spec.encode(SECRET, {"email": "a@example.com", "created_at": created_at})
    try:
        CODEC.decode(token, now=NOW)
    except InvalidToken:
        pass


@FAST
@given(st.floats(-3600, 3600, allow_nan=False) | st.integers(-3600, 3600))
def test_exp_is_enforced_with_the_leeway(offset: float) -> None:
    """exp = now + offset: accepted while offset >= -leeway (60 s), refused after."""
    exp = NOW.timestamp() + offset
    token = CODEC.encode({"email": "a@example.com", "exp": exp}, now=NOW)
    if offset >= -CODEC.leeway:
        assert CODEC.decode(token, now=NOW)["exp"] == exp
    else:
        try:
            CODEC.decode(token, now=NOW)
        except InvalidToken:
            return
        raise AssertionError("an expired exp was accepted")


@FAST
@given(json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, (int, float))))
def test_exp_that_is_not_a_number_is_refused(value: Any) -> None:
    _refused(CODEC.encode({"email": "a@example.com", "exp": value}, now=NOW))
