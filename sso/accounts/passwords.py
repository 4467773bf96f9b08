"""Password hashing with argon2id (argon2-cffi).

Production parameters follow OWASP's minimum: 19 MiB of memory, two passes, one lane.
``PASSWORD_HASH_FAST`` lowers them for the test suite only.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask

from sso.base import context

__all__ = ["DUMMY_HASH", "PRODUCTION_PARAMETERS", "hash_password", "make_hasher", "verify_password"]

PRODUCTION_PARAMETERS = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
_FAST_PARAMETERS = {"time_cost": 1, "memory_cost": 64, "parallelism": 1}  # tests only

# A hash of a random password nobody knows, with the production parameters: verified
# for unknown logins so every attempt costs exactly one hash computation.
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$5enEhEriH9SjT0uwkbwI2g$7pvT1a+UMdZDu4weWq2fVTCjqTtbfZRXXA2eLe0QlU0"


def make_hasher(fast: bool = False) -> PasswordHasher:
    """An argon2id hasher with the production parameters (or test ones if ``fast``)."""
    chosen = _FAST_PARAMETERS if fast else PRODUCTION_PARAMETERS
    return PasswordHasher(
        time_cost=chosen["time_cost"], memory_cost=chosen["memory_cost"], parallelism=chosen["parallelism"]
    )


def init_app(app: Flask) -> None:
    """Attach the hasher (and a dummy hash with the same cost) to ``app``."""
    fast = bool(app.config.get("PASSWORD_HASH_FAST"))
    hasher = make_hasher(fast)
    dummy = hasher.hash(secrets.token_urlsafe(24)) if fast else DUMMY_HASH
    context.hub_state(app).features["accounts.passwords"] = (hasher, dummy)


def _hasher() -> tuple[PasswordHasher, str]:
    pair: tuple[PasswordHasher, str] = context.hub_state().features["accounts.passwords"]
    return pair


def hash_password(password: str) -> str:
    """Hash ``password`` with the app's hasher."""
    return _hasher()[0].hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password`` against ``stored``; with ``None`` verify the dummy hash and fail.

    Always costs exactly one hash computation.
    """
    hasher, dummy = _hasher()
    try:
        ok = hasher.verify(stored or dummy, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(ok) and stored is not None
