"""Signing keys: generated at first use, stored Fernet-encrypted, published in the JWKS, rotated.

One key per algorithm signs at a time (RS256, the spec's mandatory one, and ES256). A
rotation adds a new key that is *published* at once and *signs* only ``publish_ahead``
seconds later, so relying parties that cache the JWKS have seen it before the first token
signed with it arrives. The key it replaces stays published until the ID tokens it signed
have expired (``OIDC_ID_TOKEN_LIFETIME`` after the switch), then it leaves the JWKS.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select

from sso.audit import record
from sso.base import context
from sso.base.db import db, on_write, transaction
from sso.connected_apps.service import secret_box

from .models import OidcKey

ALGORITHMS = ("RS256", "ES256")
DEFAULT_PUBLISH_AHEAD = 300  # seconds: how long a new key is published before it signs
_lock = threading.Lock()

Key = RSAKey | ECKey


@dataclass(frozen=True)
class KeyRow:
    """A key row without its ORM session (what the schedule keeps between requests)."""

    kid: str
    alg: str
    encrypted_jwk: str
    created_at: datetime
    signs_from: datetime


@dataclass
class KeyCache:
    """Decrypted keys of this process by kid (keys never change once written), and the key
    schedule (which keys exist, from when they sign), kept for ``APP_CACHE_TTL`` seconds of
    the app's clock (at most 2) and dropped at once when this worker writes a key."""

    keys: dict[str, Key] = field(default_factory=dict)
    schedule: tuple[int, float, tuple[KeyRow, ...]] | None = None  # (generation, loaded at, rows)
    lock: threading.Lock = field(default_factory=threading.Lock)


_generation = [0]


def _forget_schedule() -> None:
    _generation[0] += 1


on_write((OidcKey,), _forget_schedule, name="oidc_keys")


def _cache() -> KeyCache:
    features = context.hub_state().features
    cache: KeyCache | None = features.get("oidc.keys")
    if cache is None:
        with _lock:
            cache = features.setdefault("oidc.keys", KeyCache())
    return cache


def _generate(alg: str) -> Key:
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise ValueError(f"unsupported algorithm {alg}")


def _new_row(alg: str, signs_from: datetime) -> OidcKey:
    key = _generate(alg)
    kid = f"{alg.lower()}-{key.thumbprint()[:16]}"
    jwk = key.as_dict(private=True, kid=kid, alg=alg, use="sig")
    return OidcKey(kid=kid, alg=alg, encrypted_jwk=secret_box().encrypt(json.dumps(jwk)),
                   created_at=context.now(), signs_from=signs_from)


def _load(row: OidcKey | KeyRow) -> Key:
    cache = _cache()
    with cache.lock:
        key = cache.keys.get(row.kid)
    if key is None:
        data = json.loads(secret_box().decrypt(row.encrypted_jwk))
        key = RSAKey.import_key(data) if data["kty"] == "RSA" else ECKey.import_key(data)
        with cache.lock:
            cache.keys[row.kid] = key
    return key


def _rows() -> list[OidcKey]:
    return list(db.session.scalars(select(OidcKey).order_by(OidcKey.signs_from, OidcKey.id)))


def _schedule() -> list[KeyRow]:
    """Every key as :class:`KeyRow`, from this worker's cache when it is fresh."""
    cache = _cache()
    ttl = min(float(current_app.config["APP_CACHE_TTL"]), 2.0)
    now = context.clock().time()
    with cache.lock:
        held = cache.schedule
    if held is not None and held[0] == _generation[0] and 0 <= now - held[1] < ttl:
        return list(held[2])
    generation = _generation[0]
    rows = tuple(KeyRow(r.kid, r.alg, r.encrypted_jwk, r.created_at, r.signs_from) for r in ensure_keys())
    with cache.lock:
        cache.schedule = (generation, now, rows)
    return list(rows)


def ensure_keys() -> list[OidcKey]:
    """Every key row, generating one signing key per algorithm when there is none (first start)."""
    rows = _rows()
    missing = [alg for alg in ALGORITHMS if not any(r.alg == alg for r in rows)]
    if missing:
        with transaction():
            for alg in missing:
                row = _new_row(alg, context.now())
                db.session.add(row)
                record("oidc_key_created", detail={"kid": row.kid, "alg": alg, "reason": "first start"})
        rows = _rows()
    return rows


def _lifetime() -> timedelta:
    return timedelta(seconds=int(current_app.config["OIDC_ID_TOKEN_LIFETIME"]))


def _signing_row(rows: list[KeyRow], alg: str, now: datetime) -> KeyRow | None:
    live = [r for r in rows if r.alg == alg and _aware(r.signs_from) <= now]
    return live[-1] if live else None


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def signing_key(alg: str) -> tuple[str, Key]:
    """The (kid, private key) that signs with ``alg`` now."""
    if alg not in ALGORITHMS:
        raise ValueError(f"unsupported algorithm {alg}")
    rows = _schedule()
    row = _signing_row(rows, alg, context.now())
    if row is None:  # only newer keys than now (a clock set back): the oldest one
        row = next(r for r in rows if r.alg == alg)
    return row.kid, _load(row)


def published_rows() -> list[KeyRow]:
    """Keys in the JWKS: the signing ones, the ones about to sign, and replaced ones whose
    ID tokens may still be valid."""
    rows = _schedule()
    now = context.now()
    keep: list[KeyRow] = []
    for row in rows:
        newer = [r for r in rows if r.alg == row.alg and _aware(r.signs_from) > _aware(row.signs_from)]
        started = [r for r in newer if _aware(r.signs_from) <= now]
        if started and _aware(started[0].signs_from) + _lifetime() < now:
            continue  # replaced, and everything it signed has expired
        keep.append(row)
    return keep


def public_jwks() -> dict[str, Any]:
    """The JWKS document (public parts only)."""
    keys = []
    for row in published_rows():
        keys.append(_load(row).as_dict(private=False, kid=row.kid, alg=row.alg, use="sig"))
    return {"keys": keys}


def public_keyset() -> KeySet:
    """The published keys as a joserfc KeySet (to check ID-token hints)."""
    return KeySet.import_key_set(public_jwks())  # type: ignore[arg-type]


def rotate(algorithms: tuple[str, ...] = ALGORITHMS, *, publish_ahead: int = DEFAULT_PUBLISH_AHEAD,
           actor: str | None = None) -> list[OidcKey]:
    """Add a new key per algorithm, published now, signing ``publish_ahead`` seconds from now."""
    if publish_ahead < 0:
        raise ValueError("publish_ahead must not be negative")
    ensure_keys()
    signs_from = context.now() + timedelta(seconds=publish_ahead)
    rows = []
    with transaction():
        for alg in algorithms:
            row = _new_row(alg, signs_from)
            db.session.add(row)
            rows.append(row)
            record("oidc_key_created", actor=actor, detail={
                "kid": row.kid, "alg": alg, "reason": "rotation", "signs_from": signs_from.isoformat()})
    return rows


def rewrap(*, actor: str | None = None) -> int:
    """Re-encrypt every signing key under the first ``SSO_APP_SECRETS_KEY`` key (after
    ``apps rewrap-secrets``, before the old Fernet key is dropped). All or nothing."""
    box = secret_box()
    with transaction():
        rows = _rows()
        for row in rows:
            row.encrypted_jwk = box.rotate(row.encrypted_jwk)
        record("secrets_rewrapped", actor=actor, detail={"count": len(rows), "what": "oidc signing keys"})
    return len(rows)
