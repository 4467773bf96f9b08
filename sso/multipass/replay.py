"""Replay stores: remember which tokens were used, so each is accepted once.

One small interface, three implementations. ``claim(key, expires_at)`` returns True the
first time a key is seen and False every time after, until ``expires_at`` (epoch
seconds) has passed; by then the token itself has expired, so forgetting is safe.

Capability flag ``shared``: True when several processes or hosts see the same store.
A hub or app running more than one worker needs a shared store (SQL or Redis).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .errors import ReplayStoreError

__all__ = ["MemoryReplayStore", "RedisReplayStore", "ReplayStore", "SqlReplayStore"]


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


metadata = sa.MetaData()

used_tokens = sa.Table(
    "multipass_used_tokens",
    metadata,
    sa.Column("token_key", sa.String(128), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)


class SqlReplayStore:
    """SQL store through SQLAlchemy: the primary key makes the second insert fail.

    Works on SQLite and PostgreSQL. Shared by every process using the same database.
    Call :meth:`create_table` once (or let a migration create ``multipass_used_tokens``).
    """

    shared = True

    def __init__(self, engine: sa.Engine, *, purge_every: float = 300.0) -> None:
        self.engine = engine
        self._purge_every = purge_every
        self._next_purge = 0.0

    def create_table(self) -> None:
        metadata.create_all(self.engine, tables=[used_tokens])

    def claim(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        key = key[:128]
        try:
            with self.engine.begin() as conn:
                if now >= self._next_purge:
                    conn.execute(used_tokens.delete().where(used_tokens.c.expires_at <= now))
                    self._next_purge = now + self._purge_every
                else:
                    # An expired row for this very key must not block a (theoretical) reuse.
                    conn.execute(
                        used_tokens.delete().where(
                            used_tokens.c.token_key == key, used_tokens.c.expires_at <= now
                        )
                    )
                conn.execute(used_tokens.insert().values(token_key=key, expires_at=expires_at))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError as err:
            raise ReplayStoreError("the SQL replay store is unavailable") from err


class RedisReplayStore:
    """Redis store: ``SET key 1 NX PX <ms until expires_at>``. Shared by every client of the server."""

    shared = True

    def __init__(self, client: object, *, prefix: str = "multipass:used:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> RedisReplayStore:
        import redis

        return cls(redis.Redis.from_url(url), **kwargs)  # type: ignore[arg-type]

    def claim(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        import redis

        now = time.time() if now is None else now
        ttl_ms = max(1, int((expires_at - now) * 1000))
        try:
            created = self.client.set(self.prefix + key, b"1", nx=True, px=ttl_ms)  # type: ignore[attr-defined]
        except redis.RedisError as err:
            raise ReplayStoreError("the Redis replay store is unavailable") from err
        return bool(created)
