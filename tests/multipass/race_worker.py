"""Run in separate processes by test_replay.py: verify one token at the same instant."""

from __future__ import annotations

from typing import Any


def verify_once(kind: str, url: str, prefix: str, token: str, barrier: Any, results: Any) -> None:
    """Wait for every sibling at ``barrier``, verify ``token`` once, put the outcome on ``results``."""
    import sqlalchemy as sa

    from sso.multipass import MultipassVerifier, RedisReplayStore, ReplayedToken, SqlReplayStore

    engine = None
    if kind == "sql":
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        store: Any = SqlReplayStore(engine)
    else:
        store = RedisReplayStore.from_url(url, prefix=prefix)
    verifier = MultipassVerifier("race secret", store)
    try:
        barrier.wait(timeout=30)
        try:
            verifier.verify(token)
            results.put("accepted")
        except ReplayedToken:
            results.put("replayed")
        except Exception as err:  # reported to the parent, which fails the test
            results.put(f"error: {type(err).__name__}: {err}")
    finally:
        if engine is not None:
            engine.dispose()
        else:
            store.client.close()
