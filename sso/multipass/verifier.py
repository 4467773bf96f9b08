"""What a connected app calls to accept a Multipass token: decode, then use it once."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .codec import MultipassCodec, Now, Secret, parse_created_at
from .errors import ReplayedToken
from .replay import MemoryReplayStore, ReplayStore

__all__ = ["MultipassVerifier"]

log = logging.getLogger(__name__)


class MultipassVerifier:
    """Accept each valid token once.

    ``secrets``: one secret or a list, newest first (see :class:`MultipassCodec`), or a
    ready codec. ``replay_store`` defaults to an in-memory store, which is enough for one
    process only; pass a :class:`SqlReplayStore` or :class:`RedisReplayStore` otherwise.
    ``audience``: this app's name at the hub (its slug); when set, a token whose ``aud``
    claim is missing or different is refused, so a token issued for another app that
    happens to share the secret is never accepted here.
    """

    def __init__(
        self,
        secrets: Secret | Sequence[Secret] | MultipassCodec,
        replay_store: ReplayStore | None = None,
        *,
        max_age: float | None = None,
        leeway: float | None = None,
        audience: str | None = None,
    ) -> None:
        if isinstance(secrets, MultipassCodec):
            self.codec = secrets
        else:
            self.codec = MultipassCodec(secrets)
        self.replay_store = replay_store if replay_store is not None else MemoryReplayStore()
        self.max_age = self.codec.max_age if max_age is None else max_age
        self.leeway = self.codec.leeway if leeway is None else leeway
        if audience is not None and (not isinstance(audience, str) or not audience):
            raise ValueError("audience must be a non-empty string")
        self.audience = audience

    def verify(self, token: str | bytes, *, now: Now = None) -> dict[str, Any]:
        """Return the claims of a valid, unused token; raise :class:`InvalidToken` otherwise.

        :class:`ReplayedToken` (an :class:`InvalidToken`) when it was used before;
        :class:`ReplayStoreError` when the store is down (the token is then refused).
        """
        claims = self.codec.decode(token, max_age=self.max_age, leeway=self.leeway, now=now, audience=self.audience)
        created_at = parse_created_at(claims["created_at"])
        expires_at = created_at.timestamp() + self.max_age + self.leeway
        now_ts = _timestamp(now)
        if not self.replay_store.claim(_replay_key(claims, token), expires_at, now=now_ts):
            log.warning("Multipass token refused: used before (jti=%r)", claims.get("jti"))
            raise ReplayedToken()
        return claims


def _timestamp(now: Now) -> float:
    if now is None:
        return datetime.now(UTC).timestamp()
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()
    return float(now)


def _replay_key(claims: dict[str, Any], token: str | bytes) -> str:
    """The token's ``jti`` when it has one, else a digest of its canonical claims.

    Hashing the decrypted claims (not the token text) makes a token with and without
    ``=`` padding, or with ``+``/``-`` variants, count as the same token.
    """
    jti = claims.get("jti")
    if isinstance(jti, str) and 0 < len(jti) <= 100:
        return "jti:" + jti
    canonical = repr(sorted(claims.items())).encode("utf-8")
    return "sha:" + hashlib.sha256(canonical).hexdigest()
