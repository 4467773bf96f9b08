"""Replay stores: single use, expiry, thread and process races, fail closed when down."""

from __future__ import annotations

import multiprocessing
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sso.multipass import (
    MemoryReplayStore,
    MultipassCodec,
    RedisReplayStore,
    ReplayStore,
    ReplayStoreError,
    SqlReplayStore,
    used_tokens_table,
)
from tests.conftest import free_port

from .race_worker import verify_once

FAR = 4_102_444_800.0  # 2100-01-01, an expiry that will not pass during the test


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlReplayStore]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'replay.db'}")
    store = SqlReplayStore(engine)
    store.create_table()
    yield store
    engine.dispose()


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[SqlReplayStore]:
    engine = sa.create_engine(postgres_url)
    store = SqlReplayStore(engine)
    store.create_table()
    yield store
    engine.dispose()


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisReplayStore]:
    store = RedisReplayStore.from_url(redis_url, prefix=f"test:{secrets.token_hex(6)}:")
    yield store
    store.client.close()  # type: ignore[attr-defined]


STORES = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite_store", id="sql-sqlite"),
    pytest.param("postgres_store", id="sql-postgres", marks=pytest.mark.postgres),
    pytest.param("redis_store", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> ReplayStore:
    if request.param == "memory":
        return MemoryReplayStore()
    return request.getfixturevalue(request.param)


def test_every_store_follows_the_protocol(store: ReplayStore) -> None:
    assert isinstance(store, ReplayStore)
    assert store.shared is not isinstance(store, MemoryReplayStore)


def test_each_key_is_claimed_once(store: ReplayStore) -> None:
    key = "jti:" + secrets.token_hex(8)
    assert store.claim(key, FAR) is True
    assert store.claim(key, FAR) is False
    assert store.claim(key, FAR + 1000) is False
    assert store.claim(key + "x", FAR) is True


def test_threads_racing_on_one_key_exactly_one_wins(store: ReplayStore) -> None:
    key = "jti:" + secrets.token_hex(8)
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[object] = []

    def race() -> None:
        barrier.wait(timeout=10)
        try:
            outcomes.append(store.claim(key, FAR))
        except Exception as err:  # recorded, and then the assertion below fails
            outcomes.append(err)

    threads = [threading.Thread(target=race) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(map(repr, outcomes)) == ["False"] * (n - 1) + ["True"]


def test_memory_store_forgets_a_key_once_it_expires() -> None:
    store = MemoryReplayStore()
    assert store.claim("k", 1000.0, now=0.0)
    assert not store.claim("k", 1000.0, now=999.9)
    assert store.claim("k", 2000.0, now=1000.0)  # the old entry expired at 1000
    assert not store.claim("k", 2000.0, now=1500.0)


def test_memory_store_purges_expired_entries() -> None:
    store = MemoryReplayStore()
    for i in range(100):
        store.claim(f"k{i}", 100.0 + i, now=0.0)
    assert len(store) == 100
    store.claim("late", 10_000.0, now=150.0)
    assert len(store) == 50  # k50..k99 (expire after 150) and "late"


def test_sql_store_purges_expired_rows(sqlite_store: SqlReplayStore) -> None:
    sqlite_store.claim("old", 100.0, now=0.0)
    sqlite_store.claim("young", FAR, now=0.0)
    sqlite_store._next_purge = 0.0
    assert sqlite_store.claim("new", FAR, now=200.0)
    with sqlite_store.engine.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT token_key FROM multipass_used_tokens")).scalars())
    assert keys == {"young", "new"}
    assert sqlite_store.claim("old", 300.0, now=200.0)  # expired, so claimable again


def _schema(engine: sa.Engine) -> tuple[object, ...]:
    inspector = sa.inspect(engine)
    return (
        sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("multipass_used_tokens")),
        inspector.get_pk_constraint("multipass_used_tokens")["constrained_columns"],
        sorted((i["column_names"], i["unique"]) for i in inspector.get_indexes("multipass_used_tokens")),
    )


def test_the_table_definition_serves_migrations(tmp_path: Path) -> None:
    """A migration that creates ``used_tokens_table(its metadata)`` makes what the store expects."""
    metadata = sa.MetaData()
    table = used_tokens_table(metadata)
    assert metadata.tables["multipass_used_tokens"] is table
    migrated = sa.create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    by_store = sa.create_engine(f"sqlite:///{tmp_path / 'by_store.db'}")
    try:
        metadata.create_all(migrated)
        SqlReplayStore(by_store).create_table()
        assert _schema(migrated) == _schema(by_store)
        assert _schema(migrated)[1:] == (["token_key"], [(["expires_at"], False)])
        store = SqlReplayStore(migrated)  # no create_table(): the migration made it
        assert store.claim("k", FAR) is True and store.claim("k", FAR) is False
        store.create_table()  # harmless on an existing table
        assert store.claim("k", FAR) is False
    finally:
        migrated.dispose()
        by_store.dispose()


def test_redis_store_sets_an_expiry(redis_store: RedisReplayStore) -> None:
    import time

    assert redis_store.claim("k", time.time() + 120)
    ttl = redis_store.client.pttl(redis_store.prefix + "k")  # type: ignore[attr-defined]
    assert 110_000 < ttl <= 120_000


def test_redis_down_fails_closed() -> None:
    store = RedisReplayStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(ReplayStoreError):
            store.claim("k", FAR)
    finally:
        store.client.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:{port}/test?connect_timeout=2",
    "sqlite:////nonexistent-directory-{port}/replay.db",
])
def test_sql_down_fails_closed(url: str) -> None:
    engine = sa.create_engine(url.format(port=free_port()))
    try:
        with pytest.raises(ReplayStoreError):
            SqlReplayStore(engine).claim("k", FAR)
    finally:
        engine.dispose()


def test_sql_store_without_its_table_fails_closed(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(ReplayStoreError):
            SqlReplayStore(engine).claim("k", FAR)
    finally:
        engine.dispose()


def _race_processes(kind: str, url: str, prefix: str = "", n: int = 6) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    token = MultipassCodec("race secret").encode({"email": "a@example.com", "jti": secrets.token_hex(8)})
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=verify_once, args=(kind, url, prefix, token, barrier, results)) for _ in range(n)]
    for proc in procs:
        proc.start()
    try:
        outcomes = sorted(results.get(timeout=60) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=30)
        results.close()
        results.join_thread()
    assert all(proc.exitcode == 0 for proc in procs)
    return outcomes


@pytest.mark.postgres
def test_processes_racing_on_postgres_exactly_one_succeeds(postgres_store: SqlReplayStore, postgres_url: str) -> None:
    assert _race_processes("sql", postgres_url) == ["accepted"] + ["replayed"] * 5


@pytest.mark.redis
def test_processes_racing_on_redis_exactly_one_succeeds(redis_url: str) -> None:
    prefix = f"test:{secrets.token_hex(6)}:"
    assert _race_processes("redis", redis_url, prefix) == ["accepted"] + ["replayed"] * 5


def test_processes_racing_on_a_sqlite_file_exactly_one_succeeds(sqlite_store: SqlReplayStore) -> None:
    assert _race_processes("sql", str(sqlite_store.engine.url)) == ["accepted"] + ["replayed"] * 5


