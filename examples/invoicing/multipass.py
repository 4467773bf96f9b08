"""The Multipass verifier of this app, built once from the configuration.

Only the public API of :mod:`sso.multipass` is used, as any connected app would.
The replay store must be shared by every worker: Redis when ``REDIS_URL`` is set,
else a table (``multipass_used_tokens``) in this app's own database.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from sso.multipass import MultipassVerifier, RedisReplayStore, ReplayStore, SqlReplayStore

from .db import db

_KEY = "invoicing.multipass"


def init_app(app: Flask) -> None:
    """Create the replay store and the verifier for ``app``."""
    store: ReplayStore
    if app.config["REDIS_URL"]:
        store = RedisReplayStore.from_url(app.config["REDIS_URL"], prefix="invoicing:multipass:")
    else:
        with app.app_context():
            store = SqlReplayStore(db.engine)
            store.create_table()
    # Newest secret first; every listed secret is accepted (rotation overlap). Tokens the hub
    # issued for another app (aud) are refused, even if that app had the same secret.
    app.extensions[_KEY] = MultipassVerifier(
        app.config["MULTIPASS_SECRETS"], store, max_age=app.config["MULTIPASS_MAX_AGE"],
        audience=app.config["MULTIPASS_AUDIENCE"],
    )


def verify(token: str) -> dict[str, Any]:
    """Claims of a valid, unused token; see :meth:`MultipassVerifier.verify` for the errors."""
    verifier: MultipassVerifier = current_app.extensions[_KEY]
    return verifier.verify(token)


def close(app: Flask) -> None:
    """Release the replay store's connections (tests and clean shut-downs)."""
    verifier: MultipassVerifier | None = app.extensions.get(_KEY)
    if verifier is not None and isinstance(verifier.replay_store, RedisReplayStore):
        verifier.replay_store.client.close()  # type: ignore[attr-defined]
