"""MultipassVerifier: decode, then accept each token once, through every store."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sso.multipass import (
    ExpiredToken,
    InvalidToken,
    MemoryReplayStore,
    MultipassCodec,
    MultipassVerifier,
    RedisReplayStore,
    ReplayedToken,
    ReplayStore,
    ReplayStoreError,
    SqlReplayStore,
)
from tests.conftest import free_port

from . import independent as spec

SECRET = "verifier secret"
T0 = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(params=[
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sql-sqlite"),
    pytest.param("postgres", id="sql-postgres", marks=pytest.mark.postgres),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore()
    elif request.param == "redis":
        redis_store = RedisReplayStore.from_url(request.getfixturevalue("redis_url"),
                                                prefix=f"test:{secrets.token_hex(6)}:")
        yield redis_store
        redis_store.client.close()  # type: ignore[attr-defined]
    else:
        url = request.getfixturevalue("postgres_url") if request.param == "postgres" else f"sqlite:///{tmp_path}/r.db"
        engine = sa.create_engine(url)
        sql_store = SqlReplayStore(engine)
        sql_store.create_table()
        yield sql_store
        engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_token_is_accepted_once(store: ReplayStore) -> None:
    verifier = MultipassVerifier(SECRET, store)
    token = MultipassCodec(SECRET).encode({"email": "a@example.com", "jti": secrets.token_hex(8)})
    assert verifier.verify(token)["email"] == "a@example.com"
    with pytest.raises(ReplayedToken) as info:
        verifier.verify(token)
    assert isinstance(info.value, InvalidToken) and str(info.value) == "Invalid Multipass token"


@pytest.mark.parametrize("with_jti", [True, False], ids=["jti", "no jti"])
def test_spellings_of_one_token_count_as_one_use(store: ReplayStore, with_jti: bool) -> None:
    claims = {"email": "a@example.com", "n": secrets.token_hex(8)}
    if with_jti:
        claims["jti"] = secrets.token_hex(8)
    token = MultipassCodec(SECRET).encode(claims)
    verifier = MultipassVerifier(SECRET, store)
    verifier.verify(token.rstrip("=") if token.endswith("=") else token)
    standard = base64.b64encode(base64.urlsafe_b64decode(token)).decode()
    for variant in (token, token.rstrip("="), standard, standard.replace("+", " "), token[:40] + "\n" + token[40:]):
        with pytest.raises(ReplayedToken):
            verifier.verify(variant)


def test_distinct_tokens_are_each_accepted(store: ReplayStore) -> None:
    verifier = MultipassVerifier(SECRET, store)
    codec = MultipassCodec(SECRET)
    for _ in range(3):
        assert verifier.verify(codec.encode({"email": "a@example.com", "jti": secrets.token_hex(8)}))


def test_a_reused_jti_is_refused_even_in_a_new_token() -> None:
    verifier = MultipassVerifier(SECRET)
    codec = MultipassCodec(SECRET)
    verifier.verify(codec.encode({"email": "a@example.com", "jti": "same"}))
    with pytest.raises(ReplayedToken):
        verifier.verify(codec.encode({"email": "b@example.com", "jti": "same"}))


def test_invalid_and_expired_tokens_never_reach_the_store() -> None:
    store = MemoryReplayStore()
    verifier = MultipassVerifier(SECRET, store)
    with pytest.raises(InvalidToken):
        verifier.verify("garbage")
    with pytest.raises(InvalidToken):
        verifier.verify(MultipassCodec("other").encode({"email": "a@example.com"}))
    with pytest.raises(ExpiredToken):
        verifier.verify(MultipassCodec(SECRET).encode({"email": "a@example.com"}, now=T0),
                        now=T0 + timedelta(seconds=901))
    assert len(store) == 0


def test_injected_time_and_the_memory_store_expiry() -> None:
    store = MemoryReplayStore()
    verifier = MultipassVerifier(SECRET, store)
    token = MultipassCodec(SECRET).encode({"email": "a@example.com", "jti": "t"}, now=T0)
    assert verifier.verify(token, now=T0)
    with pytest.raises(ReplayedToken):
        verifier.verify(token, now=T0 + timedelta(seconds=900))
    with pytest.raises(ExpiredToken):  # once expired, the codec refuses it before the store is asked
        verifier.verify(token, now=T0 + timedelta(seconds=901))
    # The store remembers it for the token's whole life, leeway included.
    assert store._seen["jti:t"] == T0.timestamp() + 900 + 60


def test_verifier_windows_are_configurable() -> None:
    codec = MultipassCodec(SECRET)
    token = codec.encode({"email": "a@example.com"}, now=T0)
    short = MultipassVerifier(SECRET, max_age=60)
    with pytest.raises(ExpiredToken):
        short.verify(token, now=T0 + timedelta(seconds=61))
    assert MultipassVerifier(codec, max_age=60).verify(token, now=T0 + timedelta(seconds=60))
    strict = MultipassVerifier([SECRET], leeway=0)
    with pytest.raises(InvalidToken):
        strict.verify(token, now=T0 - timedelta(seconds=1))


def test_verifier_accepts_rotated_secrets() -> None:
    verifier = MultipassVerifier(["new", "old"])
    assert verifier.verify(spec.encode("old", {"email": "a@example.com", "created_at": _now().isoformat()}))
    assert verifier.verify(spec.encode("new", {"email": "b@example.com", "created_at": _now().isoformat()}))


def test_redis_down_refuses_the_token() -> None:
    store = RedisReplayStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(ReplayStoreError):
            MultipassVerifier(SECRET, store).verify(MultipassCodec(SECRET).encode({"email": "a@example.com"}))
    finally:
        store.client.close()  # type: ignore[attr-defined]


def test_sql_down_refuses_the_token() -> None:
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=2")
    try:
        with pytest.raises(ReplayStoreError):
            MultipassVerifier(SECRET, SqlReplayStore(engine)).verify(
                MultipassCodec(SECRET).encode({"email": "a@example.com"})
            )
    finally:
        engine.dispose()


def test_audience_is_checked_with_the_one_generic_error() -> None:
    codec = MultipassCodec(SECRET)
    verifier = MultipassVerifier(SECRET, MemoryReplayStore(), audience="invoices")
    assert verifier.verify(codec.encode({"email": "a@example.com", "aud": "invoices"}, now=T0), now=T0)["aud"] == "invoices"
    for claims in ({"aud": "crm"}, {}, {"aud": ["invoices"]}, {"aud": "Invoices"}, {"aud": None}):
        with pytest.raises(InvalidToken) as info:
            verifier.verify(codec.encode({"email": "a@example.com", **claims}, now=T0), now=T0)
        assert type(info.value) is InvalidToken and str(info.value) == "Invalid Multipass token"
    # Without an audience (the default) aud is not looked at, as before.
    assert MultipassVerifier(SECRET).verify(codec.encode({"aud": "crm"}, now=T0), now=T0)["aud"] == "crm"
    with pytest.raises(ValueError):
        MultipassVerifier(SECRET, audience="")


def test_exp_shorter_than_the_max_age_is_enforced() -> None:
    codec = MultipassCodec(SECRET)
    token = codec.encode({"email": "a@example.com", "exp": T0.timestamp() + 60}, now=T0)
    verifier = MultipassVerifier(SECRET)
    with pytest.raises(ExpiredToken):
        verifier.verify(token, now=T0 + timedelta(seconds=121))  # exp + 60 s leeway passed
    assert verifier.verify(token, now=T0 + timedelta(seconds=120))["email"] == "a@example.com"
