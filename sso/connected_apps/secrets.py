"""App secrets at rest: Fernet/MultiFernet encryption and secret generation.

The configured keys (``SSO_APP_SECRETS_KEY``, comma-separated) form a MultiFernet: the
first key encrypts, every key decrypts, so the key can be rotated by putting a new one
first (and re-encrypting with :meth:`SecretBox.rotate`).
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sso.base.errors import HubError, ValidationError

SECRET_BYTES = 32
MIN_PASTED_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 1024


class SecretDecryptionError(HubError):
    """A stored secret cannot be decrypted with the configured keys."""

    status = 500
    default_message = "A stored app secret cannot be decrypted: check SSO_APP_SECRETS_KEY."


def generate_secret() -> str:
    """A new Multipass secret: 32 random bytes as URL-safe text (43 characters)."""
    return _random.token_urlsafe(SECRET_BYTES)


def check_pasted_secret(value: str) -> str:
    """A secret pasted by IT, trimmed; raises ValidationError when too short or odd."""
    text = (value or "").strip()
    if len(text) < MIN_PASTED_SECRET_LENGTH:
        raise ValidationError(f"The secret must have at least {MIN_PASTED_SECRET_LENGTH} characters.")
    if len(text) > MAX_SECRET_LENGTH or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValidationError("The secret is too long or contains control characters.")
    return text


class SecretBox:
    """Encrypts and decrypts app secrets with one or more Fernet keys (first encrypts)."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("SecretBox needs at least one Fernet key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plain: str) -> str:
        """Ciphertext (text) of ``plain``."""
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """Plain secret from ciphertext; raises :class:`SecretDecryptionError`."""
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as err:
            raise SecretDecryptionError() from err

    def seal(self, plain: str, now: float) -> str:
        """Ciphertext of ``plain`` stamped with ``now`` (epoch seconds), for :meth:`unseal`."""
        return self._fernet.encrypt_at_time(plain.encode("utf-8"), int(now)).decode("ascii")

    def unseal(self, stored: str, ttl: int, now: float) -> str | None:
        """Plain text of a :meth:`seal` result no older than ``ttl`` seconds at ``now``, else None."""
        try:
            return self._fernet.decrypt_at_time(stored.encode("ascii"), ttl, int(now)).decode("utf-8")
        except (InvalidToken, UnicodeError):
            return None

    def rotate(self, stored: str) -> str:
        """Re-encrypt ``stored`` under the first key."""
        try:
            return self._fernet.rotate(stored.encode("ascii")).decode("ascii")
        except InvalidToken as err:
            raise SecretDecryptionError() from err
