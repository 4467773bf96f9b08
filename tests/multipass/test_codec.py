"""MultipassCodec behaviour: time windows, rotation, IVs, MAC-first, encode errors."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sso.multipass.codec as codec_module
from sso.multipass import DEFAULT_LEEWAY, DEFAULT_MAX_AGE, ExpiredToken, InvalidToken, MultipassCodec
from sso.multipass.errors import GENERIC_MESSAGE

from . import independent as spec

SECRET = "codec secret"
T0 = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def codec() -> MultipassCodec:
    return MultipassCodec(SECRET)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_defaults_are_shopifys_15_minutes_and_60_s_leeway() -> None:
    assert (DEFAULT_MAX_AGE, DEFAULT_LEEWAY) == (900, 60)
    codec = MultipassCodec(SECRET)
    assert (codec.max_age, codec.leeway) == (900, 60)
    with pytest.raises(AttributeError):  # read-only: a change would bypass the checks in __init__
        codec.max_age = -1  # type: ignore[misc]
    assert SECRET not in repr(codec._keys)
    assert SECRET not in repr(vars(codec) if hasattr(codec, "__dict__") else codec)


def test_expiry_boundary_at_plus_minus_one_second(codec: MultipassCodec) -> None:
    token = codec.encode({"email": "a@example.com"}, now=T0)
    assert codec.decode(token, now=at(899))["email"] == "a@example.com"
    assert codec.decode(token, now=at(900))["email"] == "a@example.com"
    with pytest.raises(ExpiredToken):
        codec.decode(token, now=at(901))


def test_leeway_boundary_at_plus_minus_one_second(codec: MultipassCodec) -> None:
    token = codec.encode({"email": "a@example.com"}, now=T0)
    assert codec.decode(token, now=at(-59))
    assert codec.decode(token, now=at(-60))
    with pytest.raises(InvalidToken) as info:
        codec.decode(token, now=at(-61))
    assert not isinstance(info.value, ExpiredToken)


def test_now_may_be_epoch_seconds_or_naive_utc(codec: MultipassCodec) -> None:
    token = codec.encode({"email": "a@example.com"}, now=T0.timestamp())
    assert codec.decode(token, now=T0.timestamp() + 900)
    assert codec.decode(token, now=at(900).replace(tzinfo=None))
    with pytest.raises(ExpiredToken):
        codec.decode(token, now=int(T0.timestamp()) + 901)
    with pytest.raises(ExpiredToken):
        codec.decode(token, now=at(901).replace(tzinfo=None))


def test_fractional_created_at_is_compared_exactly() -> None:
    token = spec.encode(SECRET, {"email": "a@example.com", "created_at": "2024-02-29T12:00:00.500Z"})
    assert MultipassCodec(SECRET).decode(token, now=at(900.5))
    with pytest.raises(ExpiredToken):
        MultipassCodec(SECRET).decode(token, now=at(900.501))


def test_per_call_max_age_and_leeway(codec: MultipassCodec) -> None:
    token = codec.encode({"email": "a@example.com"}, now=T0)
    assert codec.decode(token, max_age=30, now=at(30))
    with pytest.raises(ExpiredToken):
        codec.decode(token, max_age=30, now=at(31))
    assert codec.decode(token, max_age=3600, now=at(3600))
    assert codec.decode(token, leeway=0, now=T0)
    with pytest.raises(InvalidToken):
        codec.decode(token, leeway=0, now=at(-1))
    assert codec.decode(token, leeway=300, now=at(-300))
    # The per-call value does not stick to the codec.
    with pytest.raises(ExpiredToken):
        codec.decode(token, now=at(901))


def test_per_codec_max_age_and_leeway() -> None:
    codec = MultipassCodec(SECRET, max_age=120, leeway=5)
    token = codec.encode({"email": "a@example.com"}, now=T0)
    assert codec.decode(token, now=at(120)) and codec.decode(token, now=at(-5))
    with pytest.raises(ExpiredToken):
        codec.decode(token, now=at(121))
    with pytest.raises(InvalidToken):
        codec.decode(token, now=at(-6))
    assert codec.decode(token, max_age=600, now=at(600))  # per call beats per codec


@pytest.mark.parametrize("kwargs", [{"max_age": 0}, {"max_age": -1}, {"leeway": -1}])
def test_nonsense_windows_are_refused_at_construction(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MultipassCodec(SECRET, **kwargs)


@pytest.mark.parametrize("secrets", ["", b"", [], [SECRET, ""]])
def test_empty_secrets_are_refused(secrets: object) -> None:
    with pytest.raises(ValueError):
        MultipassCodec(secrets)  # type: ignore[arg-type]


def test_rotation_old_and_new_both_verify_new_tokens_use_the_first() -> None:
    old, new = MultipassCodec("old secret"), MultipassCodec("new secret")
    rotated = MultipassCodec(["new secret", "old secret"])
    old_token, new_token = old.encode({"v": "old"}, now=T0), new.encode({"v": "new"}, now=T0)
    assert rotated.decode(old_token, now=T0)["v"] == "old"
    assert rotated.decode(new_token, now=T0)["v"] == "new"
    for _ in range(20):
        issued = rotated.encode({"v": "rotated"}, now=T0)
        assert new.decode(issued, now=T0)["v"] == "rotated"  # a codec holding only the first
        with pytest.raises(InvalidToken):
            old.decode(issued, now=T0)
        assert spec.decode("new secret", issued)["v"] == "rotated"
    with pytest.raises(InvalidToken):
        MultipassCodec(["newer", "new secret"]).decode(old_token, now=T0)  # dropped secret


def test_bytes_secret_equals_its_utf8_string() -> None:
    token = MultipassCodec("zoë").encode({"a": 1}, now=T0)
    assert MultipassCodec("zoë".encode()).decode(token, now=T0)["a"] == 1


def test_every_token_gets_a_fresh_random_iv(codec: MultipassCodec) -> None:
    tokens = [codec.encode({"email": "a@example.com", "created_at": T0}) for _ in range(50)]
    ivs = {base64.urlsafe_b64decode(t)[:16] for t in tokens}
    assert len(set(tokens)) == 50 and len(ivs) == 50
    assert bytes(16) not in ivs
    assert all(codec.decode(t, now=T0)["email"] == "a@example.com" for t in tokens)


def test_created_at_is_emitted_with_an_explicit_offset(codec: MultipassCodec) -> None:
    cases = {
        None: "2024-02-29T12:00:00+00:00",
        T0.replace(tzinfo=None): "2024-02-29T12:00:00+00:00",
        "2024-02-29T12:00:00": "2024-02-29T12:00:00+00:00",
        "2024-02-29T12:00:00.25": "2024-02-29T12:00:00.250000+00:00",
        "2024-02-29T08:00:00-04:00": "2024-02-29T08:00:00-04:00",  # kept as given
        "2024-02-29T12:00:00.123Z": "2024-02-29T12:00:00.123Z",
    }
    for value, emitted in cases.items():
        claims = {"email": "a@example.com"} if value is None else {"email": "a@example.com", "created_at": value}
        assert spec.decode(SECRET, codec.encode(claims, now=T0))["created_at"] == emitted


def test_mac_is_checked_before_decryption(codec: MultipassCodec, caplog: pytest.LogCaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A ciphertext whose padding is bad, under a wrong MAC: the decryptor is never reached."""
    reached: list[bytes] = []
    real = codec_module._decrypt_authenticated
    monkeypatch.setattr(codec_module, "_decrypt_authenticated",
                        lambda key, signed: reached.append(signed) or real(key, signed))
    bad_padding = b'{"email":"a@example.com"}' + bytes(7)
    caplog.set_level(logging.INFO, logger="sso.multipass")

    wrong_mac = spec.seal_padded(SECRET, bad_padding, bytes(16), mac_secret="not the secret")
    with pytest.raises(InvalidToken) as mac_error:
        codec.decode(wrong_mac, now=T0)
    assert reached == [] and "MAC" in caplog.text and "padding" not in caplog.text

    caplog.clear()
    right_mac = spec.seal_padded(SECRET, bad_padding, bytes(16))
    with pytest.raises(InvalidToken) as padding_error:
        codec.decode(right_mac, now=T0)
    assert len(reached) == 1 and "padding" in caplog.text
    # The caller cannot tell the two apart.
    assert (type(mac_error.value), str(mac_error.value)) == (type(padding_error.value), str(padding_error.value))


def test_mac_compare_is_constant_time_and_tries_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behaviour: the MAC goes through hmac.compare_digest, once per secret, even when the first matches."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    codec = MultipassCodec(["first", "second", "third"])
    token = codec.encode({"email": "a@example.com"}, now=T0)
    mac = base64.urlsafe_b64decode(token)[-32:]
    assert codec.decode(token, now=T0)
    assert len(calls) == 3 and all(mac in pair for pair in calls)
    calls.clear()
    with pytest.raises(InvalidToken):
        codec.decode(spec.encode("stranger", {"email": "a@example.com", "created_at": T0.isoformat()}), now=T0)
    assert len(calls) == 3


def test_oversized_tokens_are_refused_before_any_work(codec: MultipassCodec, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def no_base64(*args: object) -> bytes:
        raise AssertionError("base64 decoding reached for an oversized token")

    monkeypatch.setattr(codec_module.base64, "urlsafe_b64decode", no_base64)
    caplog.set_level(logging.INFO, logger="sso.multipass")
    for token in ("A" * 8193, b"A" * 8193, "\xe9" * 100_000, b"\xff" * 100_000):
        with pytest.raises(InvalidToken):
            codec.decode(token, now=T0)
    assert caplog.text.count("too long") == 4


def test_a_token_up_to_the_bound_is_accepted(codec: MultipassCodec) -> None:
    claims = {"email": "a@example.com", "bio": "x" * 5900}
    token = codec.encode(claims, now=T0)
    assert len(token) <= 8192
    assert codec.decode(token, now=T0)["bio"] == claims["bio"]


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", datetime])
def test_encoding_non_json_claims_raises_type_error(codec: MultipassCodec, value: object) -> None:
    with pytest.raises(TypeError):
        codec.encode({"email": "a@example.com", "x": value})


@pytest.mark.parametrize("claims", [
    {"email": "a@example.com", "x": float("nan")},
    {"email": "a@example.com", "x": [float("inf")]},
    {"email": "a@example.com", "x": "\ud800"},  # lone surrogate: not UTF-8
    {"email": "a@example.com", "created_at": "yesterday"},
    {"email": "a@example.com", "created_at": 1709208000},
])
def test_encoding_invalid_claims_raises_value_error(codec: MultipassCodec, claims: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        codec.encode(claims)


def test_encoding_keeps_extra_claims_and_does_not_mutate_the_input(codec: MultipassCodec) -> None:
    claims = {"email": "a@example.com", "login": "ann", "tag_string": "vip", "nested": {"a": [1, None]}}
    before = dict(claims)
    decoded = codec.decode(codec.encode(claims, now=T0), now=T0)
    assert claims == before
    assert decoded == {**claims, "created_at": "2024-02-29T12:00:00+00:00"}


@pytest.mark.parametrize("token", [None, 42, ["a"], {"t": 1}])
def test_non_string_tokens_raise_invalid_token(codec: MultipassCodec, token: object) -> None:
    with pytest.raises(InvalidToken):
        codec.decode(token)  # type: ignore[arg-type]


# -- decryption and unpadding (cryptography's CBC mode and PKCS7 unpadder) ---------------


def _claims_bytes(filler: int) -> tuple[dict[str, object], bytes]:
    claims: dict[str, object] = {"email": "a@example.com", "p": "x" * filler, "created_at": T0.isoformat()}
    return claims, json.dumps(claims, separators=(",", ":")).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(filler=st.integers(min_value=0, max_value=200), iv=st.binary(min_size=16, max_size=16))
def test_every_padding_length_and_block_count_decrypts(filler: int, iv: bytes) -> None:
    """Plaintexts of every length mod 16 (pads of 1 to 16 bytes), one to sixteen blocks."""
    claims, plaintext = _claims_bytes(filler)
    assert MultipassCodec(SECRET).decode(spec.seal(SECRET, plaintext, iv), now=T0) == claims


@pytest.mark.parametrize("pad", range(1, 17))
def test_any_wrong_padding_byte_after_a_valid_mac_is_refused(pad: int, caplog: pytest.LogCaptureFixture) -> None:
    """Each byte of each pad length, spoiled in turn: the same InvalidToken as a bad MAC."""
    codec = MultipassCodec(SECRET)
    filler = next(n for n in range(16) if (len(_claims_bytes(n)[1]) + pad) % 16 == 0)
    padded = _claims_bytes(filler)[1] + bytes([pad]) * pad
    assert codec.decode(spec.seal_padded(SECRET, padded, bytes(16)), now=T0)  # the unspoiled one is fine
    caplog.set_level(logging.INFO, logger="sso.multipass")
    for position in range(len(padded) - pad, len(padded)):
        spoiled = bytearray(padded)
        spoiled[position] ^= 0x20
        with pytest.raises(InvalidToken) as info:
            codec.decode(spec.seal_padded(SECRET, bytes(spoiled), bytes(16)), now=T0)
        assert type(info.value) is InvalidToken and str(info.value) == GENERIC_MESSAGE
    records = [r.getMessage() for r in caplog.records]
    assert len(records) == pad and all("valid MAC" in m and "padding" in m for m in records)


def test_one_codec_decodes_concurrently_in_threads() -> None:
    codec = MultipassCodec(["new", SECRET])
    cases = [_claims_bytes(i % 40) for i in range(400)]
    tokens = [spec.seal(SECRET, plaintext, os.urandom(16)) for _, plaintext in cases]

    def check(i: int) -> bool:
        return codec.decode(tokens[i], now=T0) == cases[i][0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(check, list(range(len(cases))) * 5))
