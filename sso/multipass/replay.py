"""Replay stores: remember which tokens were used, so each is accepted once.

One small interface, three implementations. ``claim(key, expires_at)`` returns True the
first time a key is seen and False every time after, until ``expires_at`` (epoch
seconds) has passed; by then the token itself has expired, so forgetting is safe.

Capability flag ``shared``: True when several processes or hosts see the same store.
A hub or app running more than one worker needs a shared store (SQL or Redis).

SQLAlchemy and redis are imported by the store that needs them, when it is built or
used, never by importing this module.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .errors import ReplayStoreError

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "TABLE_NAME",
    "MemoryReplayStore",
    "RedisClient",
    "RedisReplayStore",
    "ReplayStore",
    "SqlReplayStore",
    "used_tokens_table",
]

TABLE_NAME = "multipass_used_tokens"


@runtime_checkable
class ReplayStore(Protocol):
    """Where used token keys are recorded."""

    shared: bool

    def claim(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        """Record ``key``; True if it was not recorded before (first use)."""
        ...


class MemoryReplayStore:
    """In-process store: thread-safe, forgets entries once they expire. Not shared."""

    shared = False

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def claim(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        """Record ``key`` until ``expires_at``; True if it was not recorded (or has expired)."""
        now = time.time() if now is None else now
        with self._lock:
            if now >= self._next_purge:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
                self._next_purge = now + 60
            previous = self._seen.get(key)
            if previous is not None and previous > now:
                return False
            self._seen[key] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._seen)


def used_tokens_table(metadata: sa.MetaData) -> sa.Table:
    """Define the ``multipass_used_tokens`` table on ``metadata`` and return it.

    :class:`SqlReplayStore` uses this definition. Call it with your own metadata (for
    instance the one your migrations compare against) to create the table by migration.
    """
    import sqlalchemy as sa

    return sa.Table(
        TABLE_NAME,
        metadata,
        sa.Column("token_key", sa.String(128), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False, index=True),
    )


class SqlReplayStore:
    """SQL store through SQLAlchemy: the primary key makes the second insert fail.

    Works on SQLite and PostgreSQL. Shared by every process using the same database.
    Call :meth:`create_table` once, or create the table by migration (see
    :func:`used_tokens_table`).
    """

    shared = True

    def __init__(self, engine: sa.Engine, *, purge_every: float = 300.0) -> None:
        from sqlalchemy import MetaData

        self.engine = engine
        self.table = used_tokens_table(MetaData())
        self._purge_every = purge_every
        self._next_purge = 0.0

    def create_table(self) -> None:
        """Create the table (and its index) unless it exists."""
        self.table.create(self.engine, checkfirst=True)

    def claim(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        """Insert ``key``; True if the insert succeeded, False if the key is already there.

        Raises :class:`ReplayStoreError` when the database cannot be used (fail closed).
        """
        from sqlalchemy.exc import IntegrityError, SQLAlchemyError

        now = time.time() if now is None else now
        key = key[:128]
        table = self.table
        try:
            with self.engine.begin() as conn:
                if now >= self._next_purge:
                    conn.execute(table.delete().where(table.c.expires_at <= now))
                    self._next_purge = now + self._purge_every
                else:
                    # An expired row for this very key must not block a (theoretical) reuse.
                    conn.execute(table.delete().where(table.c.token_key == key, table.c.expires_at <= now))
                conn.execute(table.insert().values(token_key=key, expires_at=expires_at))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError as err:
            raise ReplayStoreError("the SQL replay store is unavailable") from err


class RedisClient(Protocol):
    """The one method of a ``redis.Redis`` client that :class:`RedisReplayStore` calls."""

    def set(self, name: str, value: bytes, *, px: int, nx: bool) -> object:
        """Set ``name`` to ``value`` with a ``px`` ms expiry, only if absent when ``nx``."""
        ...


class RedisReplayStore:
    """Redis store: ``SET key 1 NX PX <ms until expires_at>``. Shared by every client of the server."""

    shared = True

    def __init__(self, client: RedisClient, *, prefix: str = "multipass:used:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "multipass:used:") -> RedisReplayStore:
        """A store with a new ``redis.Redis`` client for ``url``."""
        import redis

        return cls(redis.Redis.from_url(url), prefix=prefix)

    def claim(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        """``SET NX`` the key; True if it was absent. :class:`ReplayStoreError` when Redis is down."""
        import redis

        now = time.time() if now is None else now
        ttl_ms = max(1, int((expires_at - now) * 1000))
        try:
            created = self.client.set(self.prefix + key, b"1", px=ttl_ms, nx=True)
        except redis.RedisError as err:
            raise ReplayStoreError("the Redis replay store is unavailable") from err
        return bool(created)
